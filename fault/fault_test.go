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

func TestPointStops(t *testing.T) {
	if os.Getenv("FAULT_CHILD") == "2" {
		Point("x")
		os.Stdout.WriteString("continued\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPointStops$")
	cmd.Env = append(os.Environ(), "FAULT_CHILD=2", Env+"=x:stop")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(cmd.Process.Pid, &ws, syscall.WUNTRACED, nil); err != nil || !ws.Stopped() {
		t.Fatalf("child not stopped: %v %v", ws, err)
	}
	cmd.Process.Signal(syscall.SIGCONT)
	cmd.Wait()
	if !strings.Contains(out.String(), "continued") {
		t.Fatalf("child printed %q", out.String())
	}
}
