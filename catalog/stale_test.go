package catalog

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// TestKilledSaveCleaned: temporaries of a killed save (a dead pid's) are
// removed when the dataset is next loaded or saved.
func TestKilledSaveCleaned(t *testing.T) {
	c, dir := newCatalog(t, `
a:
  type: json
  filepath: $DIR/a.json
b:
  type: json
  filepath: $DIR/b.json
`, "", Options{})
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if err := c.Save(ctx, n, map[string]int{"x": 1}); err != nil {
			t.Fatal(err)
		}
	}
	dead := exec.Command("true")
	dead.Run()
	pid := strconv.Itoa(dead.ProcessState.Pid())
	stale := []string{".a.json.tmp-" + pid + "-1", ".b.json.tmp-" + pid + "-2", ".b.json.tmp-" + pid + "-3"}
	for _, s := range stale {
		os.MkdirAll(filepath.Join(dir, s, "sub"), 0o755)
	}
	if _, err := c.Load(ctx, "a", reflect.TypeFor[map[string]int]()); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx, "b", map[string]int{"x": 2}); err != nil {
		t.Fatal(err)
	}
	es, _ := os.ReadDir(dir)
	if len(es) != 2 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Fatalf("left after a load and a save: %v", names)
	}
}

// TestLiveWritersTemporaryKept: a temporary whose writer still runs is
// not removed by a save (a locked one fails the save: atomicfile's
// TestCleanKeepsLiveWriters).
func TestLiveWritersTemporaryKept(t *testing.T) {
	c, dir := newCatalog(t, `
a:
  type: json
  filepath: $DIR/a.json
`, "", Options{})
	holder := exec.Command("sleep", "60")
	if err := holder.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	tmp := filepath.Join(dir, ".a.json.tmp-"+strconv.Itoa(holder.Process.Pid)+"-9")
	os.WriteFile(tmp, nil, 0o644)
	if err := c.Save(context.Background(), "a", map[string]int{"x": 1}); err != nil {
		t.Fatalf("save beside a live writer's unlocked temporary: %v", err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("a live process's temporary was removed: %v", err)
	}
}
