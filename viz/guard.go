package viz

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
)

// HostGuard wraps h so it answers only requests whose Host header names
// this machine as the server was addressed: "localhost", a loopback IP,
// or one of the names in allowed (the bound address, and when it is a
// wildcard the machine's own addresses and host name). A web page that a
// browser loaded from another site cannot read the viewer through DNS
// rebinding (its requests carry the attacker's host name), so file paths
// and parameter values stay on this machine.
func HostGuard(h http.Handler, allowed ...string) http.Handler {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[normHost(a)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host := req.Host
		if name, _, err := net.SplitHostPort(host); err == nil {
			host = name
		}
		host = normHost(host)
		if host == "localhost" || ok[host] || isLoopbackIP(host) {
			h.ServeHTTP(w, req)
			return
		}
		names := make([]string, 0, len(ok)+2)
		names = append(names, "localhost", "127.0.0.1")
		for a := range ok {
			names = append(names, a)
		}
		slices.Sort(names[2:])
		http.Error(w, fmt.Sprintf("viz: Host %q is not this viewer's address (answering only %s): refused to guard against DNS rebinding",
			req.Host, strings.Join(slices.Compact(names), ", ")), http.StatusMisdirectedRequest)
	})
}

// normHost lower-cases a host name and strips the brackets of an IPv6
// literal and a trailing root dot.
func normHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

func isLoopbackIP(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// allowedHosts are the Host names a server bound to addr (as the user
// asked for it: name, the listener's address) answers to.
func allowedHosts(requested string, bound net.Addr) []string {
	var out []string
	if requested != "" {
		out = append(out, requested)
	}
	tcp, ok := bound.(*net.TCPAddr)
	if !ok {
		return out
	}
	out = append(out, tcp.IP.String())
	if !tcp.IP.IsUnspecified() {
		return out
	}
	// A wildcard bind answers on every interface: its addresses and the
	// host name are this machine's own names.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				out = append(out, n.IP.String())
			}
		}
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		out = append(out, name)
	}
	return out
}

// ExposureWarning says, for a server bound to addr, who else can reach
// it: "" when addr is a loopback address, otherwise a warning to print
// where the user will see it.
func ExposureWarning(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return ""
	}
	who := "every machine that can reach " + tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		who = "every network this machine is on"
	}
	return fmt.Sprintf("WARNING: the viewer is listening on %s, open to %s, without authentication: "+
		"it shows file paths, parameter values and source locations of this project. "+
		"Bind it to 127.0.0.1 (the default) unless you mean to share it.", addr, who)
}
