package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Credentials is the configuration kind holding secrets for datasets on
// object storage (credentials*.yml). It is read from the run environment
// only (conf/local by default, or --env): a credentials file in the base
// environment, which is committed, is an error.
const Credentials Kind = "credentials"

// envRef is "${env:NAME}" or Kedro's "${oc.env:NAME}" (optionally with a
// default after a comma), the one interpolation credentials allow.
var envRef = regexp.MustCompile(`\$\{(?:oc\.)?env:\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,\s*([^}]*))?\}`)

// loadCredentials reads the run environment's credentials files. Values
// may read the process environment with ${env:NAME} or ${oc.env:NAME}.
func loadCredentials(confSource, baseEnv string, envs []string) (*Tree, []string, error) {
	base := filepath.Join(confSource, baseEnv)
	files, err := matchFiles(base, Credentials)
	if err != nil {
		return nil, nil, err
	}
	if len(files) > 0 {
		return nil, nil, fmt.Errorf("%s: credentials in the base environment, which is committed to version control: move the file to conf/local/ (git-ignored) or read the secrets from the environment with ${env:NAME}", files[0])
	}
	out := NewTree()
	var read []string
	for _, env := range envs {
		if env == baseEnv {
			continue
		}
		t, fs, err := loadEnv(filepath.Join(confSource, env), Credentials)
		if err != nil {
			return nil, nil, err
		}
		read = append(read, fs...)
		if err := expandEnv(t, "", t.Values); err != nil {
			return nil, nil, err
		}
		mergeEnv(out, t)
	}
	return out, read, nil
}

func expandEnv(t *Tree, path string, m map[string]any) error {
	for k, v := range m {
		p := k
		if path != "" {
			p = path + "." + k
		}
		switch v := v.(type) {
		case map[string]any:
			if err := expandEnv(t, p, v); err != nil {
				return err
			}
		case string:
			var missing string
			m[k] = envRef.ReplaceAllStringFunc(v, func(ref string) string {
				sub := envRef.FindStringSubmatch(ref)
				if val, ok := os.LookupEnv(sub[1]); ok {
					return val
				}
				if strings.Contains(ref, ",") {
					return strings.TrimSpace(sub[2])
				}
				missing = sub[1]
				return ref
			})
			if missing != "" {
				return fmt.Errorf("%s: credentials %s reads the environment variable %s, which is not set", t.Source(p), p, missing)
			}
		}
	}
	return nil
}

// checkNoInlineCredentials rejects a catalog entry of the base
// environment whose "credentials" is a mapping (secrets written inline
// in a committed file) rather than the name of an entry of
// conf/local/credentials.yml.
func checkNoInlineCredentials(t *Tree) error {
	for _, key := range t.Keys() {
		entry, ok := t.Values[key].(map[string]any)
		if !ok {
			continue
		}
		if c, ok := entry["credentials"].(map[string]any); ok && len(c) > 0 {
			return fmt.Errorf("%s: catalog entry %q writes its credentials inline in the base environment, which is committed: put them in conf/local/credentials.yml and write credentials: <name>", t.Source(key+".credentials"), key)
		}
	}
	return nil
}
