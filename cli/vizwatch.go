package cli

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// watchProject polls the configuration and the Go sources under root
// once a second (no file-watch dependency). A configuration change
// reloads the graphs in place (reload); a Go change rebuilds the binary
// and replaces this process with it (same arguments, same port), since
// new node code needs a new binary. Failures are reported and the
// viewer keeps serving what it has.
func (a *App) watchProject(ctx context.Context, root, confSource string, reload func() error, ln net.Listener) {
	conf, code := snapshot(root, confSource)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c, g := snapshot(root, confSource)
		switch {
		case g != code:
			code, conf = g, c
			fmt.Fprintln(a.Stderr, "viz: Go code changed; rebuilding")
			bin, err := rebuild(root)
			if err != nil {
				fmt.Fprintf(a.Stderr, "viz: rebuild failed, still serving the old graphs: %v\n", err)
				continue
			}
			ln.Close()
			err = syscall.Exec(bin, append([]string{os.Args[0]}, os.Args[1:]...), os.Environ())
			fmt.Fprintf(a.Stderr, "viz: restarting as %s: %v\n", bin, err)
			return
		case c != conf:
			conf = c
			if err := reload(); err != nil {
				fmt.Fprintf(a.Stderr, "viz: configuration changed but does not load, still serving the old graphs: %v\n", err)
				continue
			}
			fmt.Fprintln(a.Stderr, "viz: configuration changed; graphs reloaded")
		}
	}
}

// snapshot sums the names, sizes and modification times of the
// configuration files and of the project's Go files.
func snapshot(root, confSource string) (conf, code string) {
	var c, g strings.Builder
	filepath.WalkDir(confSource, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				fmt.Fprintf(&c, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
			}
		}
		return nil
	})
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".mmc", "data", "weights", "testdata", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			if fi, err := d.Info(); err == nil {
				fmt.Fprintf(&g, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
			}
		}
		return nil
	})
	return c.String(), g.String()
}

// rebuild builds the project's binary into a temporary file.
func rebuild(root string) (string, error) {
	dir, err := os.MkdirTemp("", "mmc-viz-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mmc")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}
