// Package fault stops the process at named points for crash tests: when
// the environment variable MMC_FAULT names a point (or lists it among
// comma-separated names), the process kills itself with SIGKILL as it
// reaches that point, as `kill -9` would at exactly that moment, with no
// deferred cleanup. Tests start mmc (or a test binary) in a child
// process with MMC_FAULT set instead of sleeping and signalling.
//
// Points are named package.place, e.g. "train.state.renamed" (a new
// training-state folder renamed into place, before the pointer file
// switches to it). Without MMC_FAULT, Point costs one Getenv.
package fault

import (
	"os"
	"runtime"
	"strings"
	"syscall"
)

// Env is the environment variable that names the points to stop at.
const Env = "MMC_FAULT"

// Point kills the process when MMC_FAULT names point. A name written
// point:stop stops the process instead (SIGSTOP, as Ctrl-Z would), so a
// test can act while it holds its locks at that point, then kill or
// continue it.
func Point(point string) {
	v := os.Getenv(Env)
	if v == "" {
		return
	}
	for _, p := range strings.Split(v, ",") {
		name, stop := strings.CutSuffix(strings.TrimSpace(p), ":stop")
		if name != point {
			continue
		}
		if stop {
			os.Stderr.WriteString("mmc: stopped at " + point + " (" + Env + ")\n")
			stopHere()
			return
		}
		os.Stderr.WriteString("mmc: fault injected at " + point + " (" + Env + "), killing the process\n")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered before this returns
	}
}

// stopHere stops the process before it returns. kill(getpid(), SIGSTOP)
// would not: the kernel may hand the signal to another thread, and until
// that thread runs, this one goes on (and can even exit the process
// first, so the stop is never seen). A signal sent to the calling thread
// is taken on the way back from the system call, which starts the group
// stop there.
func stopHere() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	syscall.Tgkill(os.Getpid(), syscall.Gettid(), syscall.SIGSTOP)
}
