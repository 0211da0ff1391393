package viz

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHostGuard is issue 16 item 12 (DNS rebinding): only the names this
// server was bound as may reach it.
func TestHostGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	lan := &net.TCPAddr{IP: net.ParseIP("192.168.7.5"), Port: 4141}
	loop := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 4141}
	cases := []struct {
		bound     net.Addr
		requested string
		host      string
		want      int
	}{
		{loop, "127.0.0.1", "127.0.0.1:4141", 200},
		{loop, "127.0.0.1", "localhost:4141", 200},
		{loop, "127.0.0.1", "LocalHost.:4141", 200},
		{loop, "127.0.0.1", "[::1]:4141", 200},
		{loop, "127.0.0.1", "127.0.0.1", 200},
		{loop, "127.0.0.1", "evil.example:4141", 421},
		{loop, "127.0.0.1", "localhost.evil.example:4141", 421},
		{loop, "127.0.0.1", "127.0.0.1.nip.io:4141", 421},
		{loop, "127.0.0.1", "", 421},
		{lan, "192.168.7.5", "192.168.7.5:4141", 200},
		{lan, "192.168.7.5", "192.168.7.6:4141", 421},
		{lan, "myhost.lan", "myhost.lan:4141", 200},
		{lan, "myhost.lan", "MYHOST.LAN:4141", 200},
		{lan, "myhost.lan", "rebind.attacker.example", 421},
	}
	for _, c := range cases {
		h := HostGuard(ok, allowedHosts(c.requested, c.bound)...)
		req := httptest.NewRequest("GET", "/api/main", nil)
		req.Host = c.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("bound %s as %q, Host %q: %d, want %d (%s)", c.bound, c.requested, c.host, rec.Code, c.want, rec.Body)
		}
		if c.want != 200 && !strings.Contains(rec.Body.String(), "DNS rebinding") {
			t.Errorf("Host %q: refusal does not say why: %s", c.host, rec.Body)
		}
	}
	// A wildcard bind answers to the machine's own addresses, still not
	// to other names.
	wild := allowedHosts("0.0.0.0", &net.TCPAddr{IP: net.IPv4zero, Port: 4141})
	h := HostGuard(ok, wild...)
	for host, want := range map[string]int{"127.0.0.1:4141": 200, "rebind.attacker.example:4141": 421} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("wildcard bind, Host %q: %d, want %d", host, rec.Code, want)
		}
	}
}

// TestServeRefusesForeignHost: the guard is on in the real server.
func TestServeRefusesForeignHost(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, sampleGraph()) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("server did not stop")
		}
	}()
	url := "http://" + ln.Addr().String() + "/api/main"
	if code, _, _ := get(t, url); code != 200 {
		t.Fatalf("own address: %d", code)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = "rebind.attacker.example:4141"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusMisdirectedRequest || strings.Contains(string(body), "memes") {
		t.Errorf("foreign Host: %d %s", res.StatusCode, body)
	}
}

func TestExposureWarning(t *testing.T) {
	for addr, exposed := range map[string]bool{
		"127.0.0.1:4141":   false,
		"[::1]:4141":       false,
		"127.0.0.2:4141":   false,
		"0.0.0.0:4141":     true,
		"[::]:4141":        true,
		"192.168.7.5:4141": true,
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		w := ExposureWarning(a)
		if exposed != (w != "") || exposed && !strings.Contains(w, "WARNING") {
			t.Errorf("%s: %q", addr, w)
		}
	}
}

// TestServerHostileRequests pins what already held (issue 16, "already
// working"): paths that climb out of the page, odd methods and oversized
// or malformed queries get an error status and never a file from disk or
// a crash.
func TestServerHostileRequests(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, sampleGraph()) }()
	defer func() {
		cancel()
		<-done
	}()
	base := "http://" + ln.Addr().String()
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/../../../../etc/passwd", 404},
		{"GET", "/%2e%2e/%2e%2e/etc/passwd", 404},
		{"GET", "/..%2f..%2fetc%2fpasswd", 404},
		{"GET", "/api/nodes/..%2f..%2fetc%2fpasswd", 404},
		{"GET", "/api/pipelines/..%2f__default__", 404},
		{"GET", "/web/index.html", 404},
		{"GET", "/api/layout/view?collapse=" + strings.Repeat("x,", 5000), 400}, // no namespace "x"
		{"GET", "/api/layout/view?collapse=%zz", 200},                           // a malformed query is an empty one
		{"POST", "/api/main", 405},
		{"DELETE", "/", 405},
	} {
		req, err := http.NewRequest(c.method, base+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = c.path // send the path exactly as written
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(body), "root:") {
			t.Errorf("%s %s served /etc/passwd", c.method, c.path)
		}
		if res.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, res.StatusCode, c.want)
		}
	}
	// The server still answers.
	if code, _, _ := get(t, base+"/api/main"); code != 200 {
		t.Errorf("after the hostile requests: %d", code)
	}
}
