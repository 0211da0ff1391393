package fault

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestPointKills(t *testing.T) {
	if os.Getenv("FAULT_CHILD") == "1" {
		Point("a.b")
		os.Stdout.WriteString("passed a.b\n")
		Point("c.d")
		os.Stdout.WriteString("passed c.d\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPointKills$")
	cmd.Env = append(os.Environ(), "FAULT_CHILD=1", Env+"=x.y, c.d")
	out, err := cmd.Output()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", err)
	}
	if got := string(out); !strings.Contains(got, "passed a.b") || strings.Contains(got, "passed c.d") {
		t.Fatalf("child printed %q, want it killed at c.d", got)
	}
}
