package oci

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Key files are cosign's (docs/signing.md): the public key is a PEM "PUBLIC KEY" block (PKIX
// DER); the private key is a PEM "ENCRYPTED SIGSTORE PRIVATE KEY" block (older cosign:
// "ENCRYPTED COSIGN PRIVATE KEY") whose bytes are the JSON that go-securesystemslib's
// encrypted package makes of the PKCS #8 DER key (scrypt key derivation, NaCl secretbox).
// Gadgetry signs and verifies with ECDSA P-256 and SHA-256, cosign's default key type.
const (
	pemPublicKey          = "PUBLIC KEY"
	pemSigstorePrivateKey = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemCosignPrivateKey   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// ErrWrongPassword is returned (wrapped) when a private key does not decrypt with the password.
var ErrWrongPassword = errors.New("wrong password")

// PublicKey is a trusted key: signatures it verifies are accepted.
type PublicKey struct {
	// ID names the key in messages: the first 16 hex digits of the SHA-256 of its DER
	// (SubjectPublicKeyInfo) encoding, what
	// `openssl pkey -pubin -in KEY.pub -outform DER | sha256sum` prints.
	ID string
	// Source is where the key came from (a file name), for messages.
	Source string

	verifier signature.Verifier
}

// String names the key: "ID (SOURCE)".
func (k *PublicKey) String() string {
	if k.Source == "" {
		return k.ID
	}
	return k.ID + " (" + k.Source + ")"
}

// verify reports whether sig is this key's signature of payload.
func (k *PublicKey) verify(sig, payload []byte) bool {
	return k.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)) == nil
}

// KeyID returns the ID of a public key (PublicKey.ID).
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8]), nil
}

// newPublicKey checks that pub is an ECDSA P-256 key and makes its verifier.
func newPublicKey(pub crypto.PublicKey, source string) (*PublicKey, error) {
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s holds %s key; Gadgetry verifies ECDSA P-256 keys (what cosign generate-key-pair and gadgetry image keygen make)", source, keyKind(pub))
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s holds an ECDSA %s key; Gadgetry verifies ECDSA P-256 keys (what cosign generate-key-pair and gadgetry image keygen make)", source, ec.Curve.Params().Name)
	}
	v, err := signature.LoadECDSAVerifier(ec, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	id, err := KeyID(ec)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	return &PublicKey{ID: id, Source: source, verifier: v}, nil
}

func keyKind(k crypto.PublicKey) string {
	switch k.(type) {
	case *ecdsa.PublicKey:
		return "an ECDSA"
	case interface{ Size() int }: // *rsa.PublicKey
		return "an RSA"
	}
	return fmt.Sprintf("a %T", k)
}

// ParsePublicKey reads a PEM public key (cosign.pub) that came from source (a file name).
func ParsePublicKey(b []byte, source string) (*PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s is not a PEM file: want a -----BEGIN PUBLIC KEY----- block (as cosign generate-key-pair and gadgetry image keygen write to cosign.pub)", source)
	}
	switch block.Type {
	case pemPublicKey:
	case pemSigstorePrivateKey, pemCosignPrivateKey, "PRIVATE KEY", "EC PRIVATE KEY":
		return nil, fmt.Errorf("%s holds a private key (%s); trust its public key instead (cosign.pub, beside cosign.key)", source, block.Type)
	default:
		return nil, fmt.Errorf("%s holds a PEM %q block; want a public key (-----BEGIN PUBLIC KEY-----)", source, block.Type)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: the public key cannot be parsed: %v", source, err)
	}
	return newPublicKey(pub, source)
}

// LoadPublicKeys reads the PEM public key files paths name, in order. A key given twice is
// kept once.
func LoadPublicKeys(paths []string) ([]*PublicKey, error) {
	var keys []*PublicKey
	seen := map[string]bool{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading public key: %w", err)
		}
		k, err := ParsePublicKey(b, p)
		if err != nil {
			return nil, err
		}
		if !seen[k.ID] {
			seen[k.ID] = true
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// PrivateKey signs images.
type PrivateKey struct {
	// Public is its public key.
	Public *PublicKey

	signer signature.Signer
}

// sign returns the ECDSA (ASN.1 DER) signature of the SHA-256 of payload.
func (k *PrivateKey) sign(payload []byte) ([]byte, error) {
	return k.signer.SignMessage(bytes.NewReader(payload))
}

// IsEncryptedPrivateKey reports whether b is a cosign private key (which needs a password).
func IsEncryptedPrivateKey(b []byte) bool {
	block, _ := pem.Decode(b)
	return block != nil && (block.Type == pemSigstorePrivateKey || block.Type == pemCosignPrivateKey)
}

// ParsePrivateKey decrypts a cosign private key (cosign.key) with password. source names it
// in messages. A wrong password is an error wrapping ErrWrongPassword.
func ParsePrivateKey(b, password []byte, source string) (*PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s is not a PEM file: want an -----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY----- block (as cosign generate-key-pair and gadgetry image keygen write to cosign.key)", source)
	}
	switch block.Type {
	case pemSigstorePrivateKey, pemCosignPrivateKey:
	case pemPublicKey:
		return nil, fmt.Errorf("%s is a public key; signing needs the private key (cosign.key, beside cosign.pub)", source)
	default:
		return nil, fmt.Errorf("%s holds a PEM %q block; want a cosign private key (-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----; cosign import-key-pair converts other keys)", source, block.Type)
	}
	der, err := encrypted.Decrypt(block.Bytes, password)
	if err != nil {
		if err.Error() == "encrypted: decryption failed" {
			return nil, fmt.Errorf("decrypting %s: %w", source, ErrWrongPassword)
		}
		return nil, fmt.Errorf("decrypting %s: %v (is it a cosign private key?)", source, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: the decrypted key is not PKCS #8: %v", source, err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T key; Gadgetry signs with ECDSA P-256 keys (what cosign generate-key-pair and gadgetry image keygen make)", source, priv)
	}
	pub, err := newPublicKey(ec.Public(), source)
	if err != nil {
		return nil, err
	}
	s, err := signature.LoadECDSASigner(ec, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	return &PrivateKey{Public: pub, signer: s}, nil
}

// GenerateKeyPair makes a new ECDSA P-256 key pair in cosign's formats: the private key
// encrypted with password (cosign.key) and the public key (cosign.pub).
func GenerateKeyPair(password []byte) (privatePEM, publicPEM []byte, id string, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, "", err
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, nil, "", err
	}
	privatePEM = pem.EncodeToMemory(&pem.Block{Type: pemSigstorePrivateKey, Bytes: enc})
	publicPEM, err = cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, nil, "", err
	}
	id, err = KeyID(priv.Public())
	return privatePEM, publicPEM, id, err
}
