package localcloud

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestListenersAreLoopbackInCode finds every place the module's programs
// open a listening socket (net.Listen, http.ListenAndServe,
// funcframework.Start/StartHostPort, the fake GCS server's options, the
// emulators' command lines) and checks that each binds 127.0.0.1: the
// local cloud has no authentication, so nothing of it may be reachable
// from another machine.
func TestListenersAreLoopbackInCode(t *testing.T) {
	if emulatorLoopbackAddress != "127.0.0.1" {
		t.Fatalf("emulatorLoopbackAddress = %q, want 127.0.0.1", emulatorLoopbackAddress)
	}
	root := "../.."
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "bin" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				name := callName(x)
				var addr ast.Expr
				switch name {
				case "net.Listen", "net.ListenTCP", "tls.Listen":
					addr = x.Args[1]
				case "http.ListenAndServe", "http.ListenAndServeTLS":
					addr = x.Args[0]
				case "funcframework.Start":
					t.Errorf("%s: funcframework.Start listens on every interface; use StartHostPort(\"127.0.0.1\", ...)", fset.Position(x.Pos()))
					return true
				case "funcframework.StartHostPort":
					found++
					if !isLoopbackExpr(x.Args[0]) {
						t.Errorf("%s: StartHostPort host %s, want \"127.0.0.1\"", fset.Position(x.Pos()), render(x.Args[0]))
					}
					return true
				default:
					return true
				}
				found++
				if !isLoopbackExpr(addr) {
					t.Errorf("%s: %s on %s, want an address on 127.0.0.1", fset.Position(x.Pos()), name, render(addr))
				}
			case *ast.CompositeLit:
				if sel, ok := x.Type.(*ast.SelectorExpr); ok && render(sel) == "fakestorage.Options" {
					for _, el := range x.Elts {
						kv, ok := el.(*ast.KeyValueExpr)
						if ok && render(kv.Key) == "Host" {
							found++
							if !isLoopbackExpr(kv.Value) {
								t.Errorf("%s: fake GCS Host %s, want 127.0.0.1", fset.Position(kv.Pos()), render(kv.Value))
							}
						}
					}
				}
			case *ast.BasicLit:
				// An emulator's --host flag: "--host=" + emulatorLoopbackAddress.
				if s, err := strconv.Unquote(x.Value); err == nil && strings.HasPrefix(s, "--host=") && s != "--host=" {
					t.Errorf("%s: emulator flag %s; use \"--host=\" + emulatorLoopbackAddress", fset.Position(x.Pos()), s)
				}
			case *ast.BinaryExpr:
				if lit, ok := x.X.(*ast.BasicLit); ok && lit.Value == `"--host="` {
					found++
					if id, ok := x.Y.(*ast.Ident); !ok || id.Name != "emulatorLoopbackAddress" {
						t.Errorf("%s: emulator flag --host=%s, want emulatorLoopbackAddress", fset.Position(x.Pos()), render(x.Y))
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// net.Listen in FreePort and the delivery proxies, StartHostPort, the
	// fake GCS options, the two emulator flags: fewer means this walk
	// missed the code.
	if found < 6 {
		t.Errorf("found %d listeners in the code, want at least 6", found)
	}
}

// TestListenersAreLoopbackAtRuntime looks at the sockets the emulators and
// the fake GCS server actually listen on (/proc/net/tcp and tcp6): every
// one is on the loopback address.
func TestListenersAreLoopbackAtRuntime(t *testing.T) {
	RequireEmulators(t)
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp on this system")
	}
	s, err := StartStorage(t.Context(), StorageOptions{Buckets: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for name, host := range map[string]string{
		"firestore emulator": os.Getenv(EnvFirestoreHost),
		"pubsub emulator":    os.Getenv(EnvPubSubHost),
		"fake GCS":           s.Host,
	} {
		_, portStr, err := net.SplitHostPort(host)
		if err != nil {
			t.Fatalf("%s: host %q: %v", name, host, err)
		}
		port, _ := strconv.Atoi(portStr)
		addrs := listeningOn(t, port)
		if len(addrs) == 0 {
			t.Errorf("%s: nothing listens on port %d", name, port)
		}
		for _, a := range addrs {
			if !a.IsLoopback() {
				t.Errorf("%s listens on %s port %d, want only 127.0.0.1", name, a, port)
			}
		}
	}
}

// listeningOn returns the local addresses of the TCP sockets in LISTEN
// state on port, from /proc/net/tcp and /proc/net/tcp6.
func listeningOn(t *testing.T, port int) []net.IP {
	t.Helper()
	var out []net.IP
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A = LISTEN
				continue
			}
			hexIP, hexPort, ok := strings.Cut(fields[1], ":")
			p, err := strconv.ParseUint(hexPort, 16, 16)
			if !ok || err != nil || int(p) != port {
				continue
			}
			out = append(out, procIP(t, hexIP))
		}
		f.Close()
	}
	return out
}

// procIP decodes an address of /proc/net/tcp*: 32-bit words in host
// (little-endian) order.
func procIP(t *testing.T, h string) net.IP {
	t.Helper()
	ip := make(net.IP, 0, len(h)/2)
	for i := 0; i+8 <= len(h); i += 8 {
		w, err := strconv.ParseUint(h[i:i+8], 16, 32)
		if err != nil {
			t.Fatalf("bad address %q", h)
		}
		ip = append(ip, byte(w), byte(w>>8), byte(w>>16), byte(w>>24))
	}
	return ip
}

func callName(c *ast.CallExpr) string {
	if sel, ok := c.Fun.(*ast.SelectorExpr); ok {
		return render(sel)
	}
	return ""
}

func render(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return render(x.X) + "." + x.Sel.Name
	case *ast.BasicLit:
		return x.Value
	case *ast.CallExpr:
		return render(x.Fun) + "(…)"
	case *ast.BinaryExpr:
		return render(x.X) + " " + x.Op.String() + " " + render(x.Y)
	}
	return fmt.Sprintf("%T", e)
}

// isLoopbackExpr accepts "127.0.0.1" or "127.0.0.1:…" literals,
// emulatorLoopbackAddress, net.JoinHostPort(<loopback>, …) and
// "127.0.0.1:" + x.
func isLoopbackExpr(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(x.Value)
		return err == nil && (s == "127.0.0.1" || strings.HasPrefix(s, "127.0.0.1:"))
	case *ast.Ident:
		return x.Name == "emulatorLoopbackAddress"
	case *ast.CallExpr:
		return render(x.Fun) == "net.JoinHostPort" && len(x.Args) == 2 && isLoopbackExpr(x.Args[0])
	case *ast.BinaryExpr:
		return x.Op == token.ADD && isLoopbackExpr(x.X)
	}
	return false
}
