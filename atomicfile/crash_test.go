package atomicfile

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"mmc/fault"
)

// child runs this test binary again as a child process doing mode on
// dir; env adds variables (MMC_FAULT). It returns the child's error.
func child(t *testing.T, mode, dir string, env ...string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$")
	cmd.Env = append(os.Environ(), append(env, "ATOMICFILE_CHILD="+mode, "ATOMICFILE_DIR="+dir)...)
	out, err := cmd.CombinedOutput()
	if len(out) > 0 {
		t.Logf("child %s: %s", mode, out)
	}
	return cmd, err
}

func killed(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
}

// TestChildProcess is the child side of the crash tests (it does nothing
// in a normal run).
func TestChildProcess(t *testing.T) {
	dir := os.Getenv("ATOMICFILE_DIR")
	switch os.Getenv("ATOMICFILE_CHILD") {
	case "":
		t.Skip("only run as a child process")
	case "file":
		WriteBytes(filepath.Join(dir, "out.json"), []byte("new"))
	case "dir":
		WriteDir(filepath.Join(dir, "folder"), func(tmp string) error {
			return os.WriteFile(filepath.Join(tmp, "a"), []byte("new"), 0o644)
		})
	case "hold":
		// Holds a temporary of out.json and a lock until killed.
		f, err := CreateTemp(filepath.Join(dir, "out.json"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := TryLock(filepath.Join(dir, "state.lock"), "the state folder"); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644)
		io.ReadAll(os.Stdin) // until the parent closes stdin
		f.Close()
	}
}

// TestKilledWrites kills a write just before its rename: the old content
// stays; the next write removes the dead writer's temporary.
func TestKilledWrites(t *testing.T) {
	dir := t.TempDir()
	if err := WriteBytes(filepath.Join(dir, "out.json"), []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(filepath.Join(dir, "folder"), func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, "a"), []byte("old"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := child(t, "file", dir, fault.Env+"=atomicfile.file.written"); !killed(err) {
		t.Fatalf("child: %v, want killed", err)
	}
	if _, err := child(t, "dir", dir, fault.Env+"=atomicfile.dir.filled"); !killed(err) {
		t.Fatalf("child: %v, want killed", err)
	}
	for _, p := range []string{"out.json", "folder/a"} {
		if b, _ := os.ReadFile(filepath.Join(dir, p)); string(b) != "old" {
			t.Fatalf("%s = %q after the kill, want old", p, b)
		}
	}
	if n := len(entries(t, dir)); n != 4 {
		t.Fatalf("want the two outputs and two temporaries after the kills, got %v", entries(t, dir))
	}
	removed, err := CleanStale(filepath.Join(dir, "out.json"))
	if err != nil || len(removed) != 1 {
		t.Fatalf("CleanStale removed %v, %v; want the dead writer's temporary", removed, err)
	}
	if err := WriteDir(filepath.Join(dir, "folder"), func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, "a"), []byte("new"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); len(got) != 2 {
		t.Fatalf("temporaries left after the next saves: %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "folder", "a")); string(b) != "new" {
		t.Fatalf("folder/a = %q", b)
	}
}

func entries(t *testing.T, dir string) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestCleanKeepsLiveWriters: a temporary held by a live process is
// neither removed nor overwritten; a second writer fails at once naming
// its pid; the lock of a dead process is free again.
func TestCleanKeepsLiveWriters(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_CHILD=hold", "ATOMICFILE_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		if i > 2000 {
			t.Fatal("child never got ready")
		}
		waitABit()
	}
	removed, err := CleanStale(filepath.Join(dir, "out.json"))
	if err != nil || len(removed) != 0 {
		t.Fatalf("CleanStale removed %v (%v) while its writer lives", removed, err)
	}
	err = WriteBytes(filepath.Join(dir, "out.json"), []byte("x"))
	var le *LockedError
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid || !strings.Contains(err.Error(), "out.json") {
		t.Fatalf("second writer: %v, want a LockedError naming pid %d", err, cmd.Process.Pid)
	}
	_, err = TryLock(filepath.Join(dir, "state.lock"), "the state folder")
	if !errors.As(err, &le) || le.PID != cmd.Process.Pid || !strings.Contains(err.Error(), "the state folder") {
		t.Fatalf("second lock: %v, want a LockedError naming pid %d", err, cmd.Process.Pid)
	}
	// TestLockReleasedByDeath: kill -9 releases everything.
	cmd.Process.Signal(syscall.SIGKILL)
	stdin.Close()
	cmd.Wait()
	l, err := TryLock(filepath.Join(dir, "state.lock"), "the state folder")
	if err != nil {
		t.Fatalf("lock after the holder died: %v", err)
	}
	l.Unlock()
	if err := WriteBytes(filepath.Join(dir, "out.json"), []byte("x")); err != nil {
		t.Fatalf("write after the holder died: %v", err)
	}
	if got := entries(t, dir); len(got) != 3 { // out.json, ready, state.lock
		t.Fatalf("left: %v", got)
	}
}

// TestRecoverEarlierLayoutSwap: the earlier WriteDir killed between its
// two renames left no folder, the new one complete as .X.tmp-N and the
// old as .X.tmp-N.old; the next load or save puts the new one in place.
func TestRecoverEarlierLayoutSwap(t *testing.T) {
	dir := t.TempDir()
	newer := filepath.Join(dir, ".folder.tmp-123")
	os.MkdirAll(newer, 0o755)
	os.WriteFile(filepath.Join(newer, "a"), []byte("new"), 0o644)
	os.MkdirAll(newer+".old", 0o755)
	os.WriteFile(filepath.Join(newer+".old", "a"), []byte("old"), 0o644)
	if _, err := CleanStale(filepath.Join(dir, "folder")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "folder", "a")); string(b) != "new" {
		t.Fatalf("folder/a = %q, want the completed new content", b)
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Fatalf("left: %v", got)
	}
}

func waitABit() { syscall.Nanosleep(&syscall.Timespec{Nsec: 5e6}, nil) }
