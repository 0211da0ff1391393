package pytorch

import (
	"errors"
	"strings"
	"testing"

	"mmc/pickle"
)

// TestParameterThatIsAGlobal is issue 16 item 12 (checkpoints): a state
// dict entry that is a pickled function instead of a tensor (fixtures from
// scripts/fixtures/pickle_globals.py) is refused by strict loading,
// naming the function and the key; lenient loading leaves it out and
// keeps the tensors.
func TestParameterThatIsAGlobal(t *testing.T) {
	for file, global := range map[string]string{
		"testdata/global_value.pth":    "global torch._utils._rebuild_tensor_v2 is a value at [\"layer.hook\"]",
		"testdata/global_value_os.pth": "global posix.system is not in the allowlist",
	} {
		_, err := Load(file, nil)
		if err == nil || !errors.Is(err, pickle.ErrUnsupported) || !strings.Contains(err.Error(), global) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s strict: %v, want an error naming %q", file, err, global)
		}
		sd, err := Load(file, &Options{Lenient: true})
		if err != nil {
			t.Fatalf("%s lenient: %v", file, err)
		}
		w, ok := sd["layer.weight"]
		if len(sd) != 1 || !ok || len(w.Data) != 6 || w.Data[5] != 5 {
			t.Errorf("%s lenient: %v", file, sd)
		}
	}
}
