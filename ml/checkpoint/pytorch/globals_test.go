package pytorch

import (
	"errors"
	"strings"
	"testing"

	"mmc/pickle"
)

// TestParameterThatIsAGlobal is issue 16 item 12 (checkpoints): a state
// dict entry that is a pickled function instead of a tensor (fixtures from
// scripts/fixtures/pickle_globals.py) is refused, naming the function and
// the key: by strict loading already in the pickle decoder, and by
// lenient loading (which the application uses for MMF checkpoints) when
// the state dict is read.
func TestParameterThatIsAGlobal(t *testing.T) {
	for _, c := range []struct {
		file    string
		lenient bool
		want    string
	}{
		{"testdata/global_value.pth", false, `global torch._utils._rebuild_tensor_v2 is a value at ["layer.hook"]`},
		{"testdata/global_value_os.pth", false, "global posix.system is not in the allowlist"},
		{"testdata/global_value.pth", true, `"layer.hook" is the pickled global torch._utils._rebuild_tensor_v2, not a tensor`},
		{"testdata/global_value_os.pth", true, `"layer.hook" is the pickled global posix.system, not a tensor`},
	} {
		_, err := Load(c.file, &Options{Lenient: c.lenient})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.file) {
			t.Errorf("%s (lenient %v): %v, want an error naming %q", c.file, c.lenient, err, c.want)
		}
		if !c.lenient && !errors.Is(err, pickle.ErrUnsupported) {
			t.Errorf("%s strict: %v is not ErrUnsupported", c.file, err)
		}
	}
	// Objects beside the state dict stay inert in lenient loading (MMF's
	// argparse config), as before.
	if sd, err := Load("testdata/mmf_zip.pth", &Options{Lenient: true}); err != nil || len(sd) == 0 {
		t.Errorf("MMF checkpoint: %v", err)
	}
}
