//go:build unix

package viz

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestBuildKilledMidway kills a build with SIGKILL (in a child process)
// just before and just after the switch: the path holds a complete site
// either way, and the next build removes what the killed one left.
func TestBuildKilledMidway(t *testing.T) {
	for _, stage := range []string{"written", "swapped"} {
		t.Run(stage, func(t *testing.T) {
			parent := t.TempDir()
			p := filepath.Join(parent, "site")
			if err := Build(p, sampleGraph()); err != nil {
				t.Fatal(err)
			}
			first := tree(t, p)
			cmd := exec.Command(os.Args[0], "-test.run=^TestBuildHelperProcess$")
			cmd.Env = append(os.Environ(), "MMC_VIZ_BUILD_KILL_AT="+stage, "MMC_VIZ_BUILD_DIR="+p)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed: %v\n%s", err, out)
			}
			if err := checkOwned(p, false); err != nil {
				t.Fatalf("after a kill at %q the site is not a complete build: %v", stage, err)
			}
			killed := tree(t, p)
			if stage == "written" && !mapsEqual(killed, first) {
				t.Error("killed before the switch, yet the site changed")
			}
			if stage == "swapped" && mapsEqual(killed, first) {
				t.Error("killed after the switch, yet the old site is there")
			}
			if got := names(t, parent); len(got) != 2 {
				t.Fatalf("want the site and one leftover temporary directory, got %v", got)
			}
			if err := Build(p, sampleGraph()); err != nil {
				t.Fatal(err)
			}
			if !mapsEqual(tree(t, p), first) {
				t.Error("rebuild after the kill differs from the first build")
			}
			if got := names(t, parent); !slices.Equal(got, []string{"site"}) {
				t.Errorf("the next build left %v", got)
			}
		})
	}
}

// TestBuildHelperProcess is the child of TestBuildKilledMidway.
func TestBuildHelperProcess(t *testing.T) {
	stage := os.Getenv("MMC_VIZ_BUILD_KILL_AT")
	if stage == "" {
		t.Skip("helper process")
	}
	testHookBuild = func(s string) {
		if s == stage {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	g := sampleGraph()
	g.Nodes = g.Nodes[:1]
	Build(os.Getenv("MMC_VIZ_BUILD_DIR"), g)
	t.Fatal("not killed")
}
