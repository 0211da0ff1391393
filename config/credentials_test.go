package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeCredConf(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCredentials(t *testing.T) {
	t.Setenv("MMC_TEST_SECRET", "s3cr3t")
	base := "base/catalog.yml"
	tests := []struct {
		name    string
		files   map[string]string
		env     string
		want    string // credentials fake.secret
		wantErr string
	}{
		{"local credentials with env", map[string]string{
			base:                    "x:\n  type: json\n  filepath: s3://b/x.json\n  credentials: fake\n",
			"local/credentials.yml": "fake:\n  key: k\n  secret: ${env:MMC_TEST_SECRET}\n  token: ${oc.env:MMC_UNSET_VAR, none}\n"},
			"local", "s3cr3t", ""},
		{"other env", map[string]string{base: "{}\n", "cloud/credentials.yml": "fake:\n  secret: c\n"}, "cloud", "c", ""},
		{"credentials in base", map[string]string{base: "{}\n", "base/credentials.yml": "fake:\n  secret: leaked\n"}, "local", "",
			"credentials in the base environment"},
		{"inline credentials in base catalog", map[string]string{base: "x:\n  type: json\n  filepath: s3://b/x\n  credentials: {key: a, secret: b}\n"}, "local", "",
			`catalog entry "x" writes its credentials inline`},
		{"unset variable", map[string]string{base: "{}\n", "local/credentials.yml": "fake:\n  secret: ${env:MMC_UNSET_VAR}\n"}, "local", "",
			"MMC_UNSET_VAR, which is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeCredConf(t, tt.files)
			cfg, err := Load(Options{ConfSource: dir, Env: tt.env})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := cfg.Credentials.Get("fake.secret")
			if got != tt.want {
				t.Errorf("fake.secret = %v, want %s", got, tt.want)
			}
			if tok, ok := cfg.Credentials.Get("fake.token"); ok && tok != "none" {
				t.Errorf("fake.token = %v, want the default none", tok)
			}
		})
	}
}
