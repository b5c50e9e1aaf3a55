package oci_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gadgetry/gadgetry/oci"
)

// A key pair made by GenerateKeyPair is cosign's: an encrypted private key that decrypts with
// its password only, a PKIX public key whose ID is the start of the SHA-256 of its DER.
func TestKeyPair(t *testing.T) {
	priv, pub, id, err := oci.GenerateKeyPair([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(priv); b == nil || b.Type != "ENCRYPTED SIGSTORE PRIVATE KEY" {
		t.Fatalf("private key PEM: %q", priv)
	}
	b, _ := pem.Decode(pub)
	if b == nil || b.Type != "PUBLIC KEY" {
		t.Fatalf("public key PEM: %q", pub)
	}
	sum := sha256.Sum256(b.Bytes)
	if id != hex.EncodeToString(sum[:8]) {
		t.Fatalf("key ID %s, want the first 16 hex digits of %x", id, sum)
	}
	k, err := oci.ParsePrivateKey(priv, []byte("s3cret"), "cosign.key")
	if err != nil {
		t.Fatal(err)
	}
	if k.Public.ID != id {
		t.Fatalf("the private key's public ID %s, want %s", k.Public.ID, id)
	}
	p, err := oci.ParsePublicKey(pub, "cosign.pub")
	if err != nil || p.ID != id || p.String() != id+" (cosign.pub)" {
		t.Fatalf("public key: %v, %v", p, err)
	}
	_, err = oci.ParsePrivateKey(priv, []byte("wrong"), "cosign.key")
	if !errors.Is(err, oci.ErrWrongPassword) || err.Error() != "decrypting cosign.key: wrong password" {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestKeyFileErrors(t *testing.T) {
	priv, pub, _, err := oci.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	const ecOnly = "Gadgetry verifies ECDSA P-256 keys (what cosign generate-key-pair and gadgetry image keygen make)"
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"not PEM", []byte("hello"), "k.pub is not a PEM file: want a -----BEGIN PUBLIC KEY----- block (as cosign generate-key-pair and gadgetry image keygen write to cosign.pub)"},
		{"private key", priv, "k.pub holds a private key (ENCRYPTED SIGSTORE PRIVATE KEY); trust its public key instead (cosign.pub, beside cosign.key)"},
		{"certificate", pemOf("CERTIFICATE", []byte{1}), `k.pub holds a PEM "CERTIFICATE" block; want a public key (-----BEGIN PUBLIC KEY-----)`},
		{"RSA", pemOf("PUBLIC KEY", rsaDER), "k.pub holds an RSA key; " + ecOnly},
		{"P-384", pemOf("PUBLIC KEY", p384DER), "k.pub holds an ECDSA P-384 key; " + ecOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oci.ParsePublicKey(tc.b, "k.pub")
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
	_, err = oci.ParsePrivateKey(pub, nil, "k.key")
	if want := "k.key is a public key; signing needs the private key (cosign.key, beside cosign.pub)"; err == nil || err.Error() != want {
		t.Fatalf("public key as private: %v", err)
	}

	// LoadPublicKeys keeps a key given twice once and names a missing file.
	dir := t.TempDir()
	p := filepath.Join(dir, "k.pub")
	if err := os.WriteFile(p, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := oci.LoadPublicKeys([]string{p, p})
	if err != nil || len(keys) != 1 {
		t.Fatalf("LoadPublicKeys twice the same: %v, %v", keys, err)
	}
	_, err = oci.LoadPublicKeys([]string{filepath.Join(dir, "none.pub")})
	if want := "reading public key: open " + filepath.Join(dir, "none.pub") + ": no such file or directory"; err == nil || err.Error() != want {
		t.Fatalf("missing key file: %v", err)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := oci.LoadConfig(filepath.Join(dir, "missing.yaml"))
	if err != nil || len(c.PublicKeys) != 0 {
		t.Fatalf("a missing file: %+v, %v", c, err)
	}
	p := write("# trusted keys\npublicKeys:\n  - team.pub\n  - /etc/keys/ci.pub\n")
	c, err = oci.LoadConfig(p)
	if err != nil || len(c.PublicKeys) != 2 || c.PublicKeys[0] != filepath.Join(dir, "team.pub") || c.PublicKeys[1] != "/etc/keys/ci.pub" {
		t.Fatalf("config: %+v, %v", c, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"publicKey:\n  - a.pub\n", "the configuration file " + p + ": line 1: unknown key \"publicKey\" (did you mean publicKeys? the file knows publicKeys, insecureRegistries, registryCA, registryPrefix, registryTimeout)"},
		{"publicKeys: a.pub\n", "the configuration file " + p + ": line 1: cannot unmarshal !!str `a.pub` into []string"},
		{"publicKeys: [a.pub]\n---\npublicKeys: [b.pub]\n", "the configuration file " + p + " holds more than one YAML document"},
		{"publicKeys: [a.pub\n", "the configuration file " + p + ": line 1: did not find expected ',' or ']'"},
		{"publicKeys: ['']\n", "the configuration file " + p + ": publicKeys[0] is empty"},
	} {
		_, err := oci.LoadConfig(write(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\ngot  %v\nwant %s", tc.in, err, tc.want)
		}
	}
}
