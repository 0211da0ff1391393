package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"mmc/export"
)

// dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	line int
	op   string // upper case
	args string
}

func parseDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		trim := strings.TrimSpace(line)
		if cur.Len() == 0 && (trim == "" || strings.HasPrefix(trim, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasPrefix(trim, "#") {
			continue // a comment inside a continued instruction
		}
		if cont, ok := strings.CutSuffix(trim, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(trim)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{line: start, op: strings.ToUpper(op), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends inside a continued instruction (line %d)", start)
	}
	return out
}

// TestDockerfile checks what can be checked without a Docker engine:
// every instruction is known, the stages are well formed and the last
// one has no Go toolchain, it installs the runtime package of every C
// library a cgo file links (-lhdf5 …), every package it installs exists
// in Debian (when apt-cache is there to ask), and the binary lands where
// the exports call it (export's default program, on PATH) with the
// configuration beside it.
func TestDockerfile(t *testing.T) {
	instrs := parseDockerfile(t, "Dockerfile")
	known := []string{"FROM", "RUN", "COPY", "WORKDIR", "ARG", "ENV", "USER", "ENTRYPOINT", "CMD", "LABEL", "EXPOSE"}
	var stages []string
	var finalBase string
	stageOf := map[int]int{} // instruction → stage index
	for i, in := range instrs {
		if !slices.Contains(known, in.op) {
			t.Errorf("line %d: unknown instruction %s", in.line, in.op)
		}
		if in.op == "FROM" {
			f := strings.Fields(in.args)
			name := ""
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				name = f[2]
			} else if len(f) != 1 {
				t.Errorf("line %d: FROM %s: want IMAGE [AS NAME]", in.line, in.args)
			}
			stages = append(stages, name)
			finalBase = f[0]
		}
		if len(stages) == 0 && in.op != "ARG" {
			t.Fatalf("line %d: %s before the first FROM", in.line, in.op)
		}
		stageOf[i] = len(stages) - 1
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a build stage and a runtime stage", len(stages))
	}
	if strings.Contains(finalBase, "golang") {
		t.Errorf("final stage is based on %s: no Go toolchain in the final image", finalBase)
	}
	last := len(stages) - 1
	var finalPkgs, copies []string
	aptWord := regexp.MustCompile(`apt-get install ([^&|;]*)`)
	for i, in := range instrs {
		if in.op == "COPY" && strings.HasPrefix(in.args, "--from=") {
			from := strings.Fields(strings.TrimPrefix(in.args, "--from="))[0]
			if !slices.Contains(stages[:stageOf[i]], from) {
				t.Errorf("line %d: COPY --from=%s names no earlier stage (%v)", in.line, from, stages)
			}
		}
		if stageOf[i] != last {
			continue
		}
		if in.op == "COPY" {
			copies = append(copies, in.args)
		}
		if in.op == "RUN" {
			for _, m := range aptWord.FindAllStringSubmatch(in.args, -1) {
				for _, w := range strings.Fields(m[1]) {
					if !strings.HasPrefix(w, "-") {
						finalPkgs = append(finalPkgs, w)
					}
				}
			}
		}
	}
	bin := "/usr/local/bin/" + (export.Options{}).ProgramOrDefault()
	if !slices.ContainsFunc(copies, func(c string) bool { return strings.HasSuffix(c, " "+bin) }) {
		t.Errorf("the final stage does not copy the binary to %s (exports run %q): %v", bin, filepath.Base(bin), copies)
	}
	if !slices.ContainsFunc(copies, func(c string) bool { return strings.HasPrefix(c, "conf/ ") }) {
		t.Errorf("the final stage does not copy conf/: tasks need the configuration")
	}

	// Every -lNAME of a cgo file needs its runtime package.
	runtimePkg := map[string]string{"hdf5": "libhdf5-103-1", "hdf5_hl": "libhdf5-hl-100", "openblas": "libopenblas0-pthread"}
	lflag := regexp.MustCompile(`#cgo [^:]*LDFLAGS:.*`)
	lib := regexp.MustCompile(`(?:^|\s)-l(\S+)`)
	filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || (d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "data" || d.Name() == "bench")) {
			if d != nil && d.IsDir() && p != "." {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, l := range lflag.FindAllString(string(b), -1) {
			for _, m := range lib.FindAllStringSubmatch(l, -1) {
				pkg, ok := runtimePkg[m[1]]
				switch {
				case !ok:
					t.Errorf("%s links -l%s: add its Debian runtime package to the Dockerfile and to this test", p, m[1])
				case !slices.Contains(finalPkgs, pkg):
					t.Errorf("%s links -l%s, but the final stage does not install %s", p, m[1], pkg)
				}
			}
		}
		return nil
	})

	aptCache, err := exec.LookPath("apt-cache")
	if err != nil {
		t.Logf("no apt-cache: the %d packages are not checked against Debian", len(finalPkgs))
		return
	}
	// One call for all (apt-cache is slow to start); one each to name a missing one.
	args := append([]string{"show", "--no-all-versions"}, finalPkgs...)
	if err := exec.Command(aptCache, args...).Run(); err == nil {
		return
	}
	for _, pkg := range finalPkgs {
		if out, err := exec.Command(aptCache, "show", "--no-all-versions", pkg).CombinedOutput(); err != nil || len(out) == 0 {
			t.Errorf("package %s is not known to Debian's apt here: %v", pkg, err)
		}
	}
}
