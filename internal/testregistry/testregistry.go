// Package testregistry runs a real container registry (distribution's docker-registry) on
// 127.0.0.1 for tests: a random free port, storage in a temporary directory, optionally with
// htpasswd basic auth and TLS, stopped when the test ends.
//
//	reg := testregistry.Start(t, testregistry.Options{})
//	ref := reg.Host + "/gadgets/trace_exec:v1" // plain HTTP: pass reg.Host as insecure
//
// Without docker-registry (or htpasswd, for Auth) the test is skipped, or fails when CI=true.
package testregistry

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Options selects the registry's features.
type Options struct {
	// Auth enables htpasswd basic auth with the Registry's User and Password. Auth implies
	// TLS, so credentials never cross plain HTTP (as with a real registry).
	Auth bool
	// TLS serves HTTPS with a certificate for 127.0.0.1 signed by a CA made for the test
	// (Registry.CAFile).
	TLS bool
}

// Registry is a running registry.
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of references.
	Host string
	// TLS says whether the registry speaks HTTPS (then trust CAFile) or plain HTTP (then
	// treat Host as an insecure registry).
	TLS bool
	// CAFile is the PEM file of the CA that signed the registry's certificate (TLS only).
	CAFile string
	// User and Password are the credentials the registry accepts (Auth only).
	User, Password string
	// AuthFile is a Docker config file (config.json) holding User and Password for Host
	// (Auth only).
	AuthFile string
	// Dir is the registry's storage directory.
	Dir string

	stop func()
}

// Stop stops the registry before the test ends (to show that something works without it).
// Stopping twice, or letting the test end after Stop, is fine.
func (r *Registry) Stop() { r.stop() }

// need reports a missing tool: a skip normally, a failure when CI=true.
func need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		msg := fmt.Sprintf("%s not found in PATH (scripts/setup.sh installs it)", tool)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// Start runs a registry until the test ends.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	bin := need(t, "docker-registry")
	dir := t.TempDir()
	r := &Registry{Dir: filepath.Join(dir, "storage"), TLS: opts.TLS || opts.Auth}
	authCfg := ""
	if opts.Auth {
		htpasswd := need(t, "htpasswd")
		r.User, r.Password = "gadgetry", "s3cret-"+strconv.Itoa(os.Getpid())
		out, err := exec.Command(htpasswd, "-Bbn", r.User, r.Password).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		pw := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pw, out, 0o600); err != nil {
			t.Fatal(err)
		}
		authCfg = fmt.Sprintf("auth:\n  htpasswd:\n    realm: gadgetry-test\n    path: %s\n", pw)
	}
	var pool *x509.CertPool
	tlsCfg := ""
	if r.TLS {
		var certFile, keyFile string
		r.CAFile, certFile, keyFile, pool = makeCerts(t, dir)
		tlsCfg = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", certFile, keyFile)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	if pool != nil {
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	for attempt := 0; ; attempt++ {
		r.Host = "127.0.0.1:" + strconv.Itoa(freePort(t))
		cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n  secret: gadgetry-test\n%s%s",
			r.Dir, r.Host, tlsCfg, authCfg)
		cfgFile := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		cmd := exec.Command(bin, "serve", cfgFile)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting docker-registry: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if waitReady(client, r, exited) {
			var once sync.Once
			r.stop = func() {
				once.Do(func() {
					cmd.Process.Kill()
					<-exited
				})
			}
			t.Cleanup(r.stop)
			break
		}
		cmd.Process.Kill()
		<-exited
		if attempt == 2 {
			t.Fatalf("docker-registry did not come up on %s:\n%s", r.Host, logs.String())
		}
	}
	if opts.Auth {
		r.AuthFile = filepath.Join(dir, "docker-config.json")
		cfg := map[string]any{"auths": map[string]any{r.Host: map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Password)),
		}}}
		b, _ := json.Marshal(cfg)
		if err := os.WriteFile(r.AuthFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// waitReady polls /v2/ until the registry answers (200, or 401 with auth), it exits, or ~20 s.
func waitReady(c *http.Client, r *Registry, exited <-chan struct{}) bool {
	scheme := "http"
	if r.TLS {
		scheme = "https"
	}
	for range 200 {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := c.Get(scheme + "://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// makeCerts writes a CA and a certificate for 127.0.0.1/localhost signed by it.
func makeCerts(t testing.TB, dir string) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gadgetry test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{caFile, "CERTIFICATE", caDER}, {certFile, "CERTIFICATE", der}, {keyFile, "EC PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, certFile, keyFile, pool
}
