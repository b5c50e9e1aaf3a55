package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gadgetry/gadgetry/oci"
)

// passwordEnv holds the password of a private key, as for cosign.
const passwordEnv = "COSIGN_PASSWORD"

func newImageSignCmd(f *imageFlags) *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "sign REF --key cosign.key",
		Short: "Sign an image in its registry with a cosign key pair (after image push)",
		Long: `Sign the image REF names in its registry, the way cosign sign --key does: the digest the
reference resolves to is signed (ECDSA P-256) and the signature is added to the signature
manifest tagged sha256-<digest>.sig beside it, so cosign verify --key accepts it too. The
private key is a cosign key (gadgetry image keygen or cosign generate-key-pair); its password
comes from $COSIGN_PASSWORD, else it is asked for on the terminal. When the local store holds
the same image, it gets the signature too.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, r, err := f.storeAndRef(args[0])
			if err != nil {
				return err
			}
			if keyFile == "" {
				return errors.New("image sign: give the private key with --key (e.g. cosign.key; gadgetry image keygen makes a key pair)")
			}
			key, err := loadPrivateKey(cmd, keyFile)
			if err != nil {
				return fmt.Errorf("image sign: %w", err)
			}
			reg, err := f.registry()
			if err != nil {
				return err
			}
			signed, err := reg.Sign(cmd.Context(), s, r.String(), key)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if signed.AlreadySigned {
				fmt.Fprintf(w, "%s (%s) is already signed by key %s: %s unchanged\n", r, signed.Digest, key.Public.ID, signed.SignatureRef)
			} else {
				fmt.Fprintf(w, "signed %s (%s) with key %s: %s\n", r, signed.Digest, key.Public.ID, signed.SignatureRef)
			}
			if signed.InStore {
				fmt.Fprintf(w, "the local store's copy has the signature too\n")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the cosign private key file (cosign.key), encrypted with the password in $COSIGN_PASSWORD or asked for")
	return cmd
}

// loadPrivateKey reads and decrypts a cosign private key.
func loadPrivateKey(cmd *cobra.Command, path string) (*oci.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %w", err)
	}
	if !oci.IsEncryptedPrivateKey(b) {
		_, err := oci.ParsePrivateKey(b, nil, path) // says what the file is instead
		return nil, err
	}
	pw, fromEnv, err := readPassword(cmd, "Enter password for private key "+path+": ", false)
	if err != nil {
		return nil, fmt.Errorf("%s is encrypted: %w", path, err)
	}
	key, err := oci.ParsePrivateKey(b, pw, path)
	if errors.Is(err, oci.ErrWrongPassword) {
		if fromEnv {
			return nil, fmt.Errorf("%w (taken from $%s); set it to the password the key was made with", err, passwordEnv)
		}
		return nil, fmt.Errorf("%w; try again with the password the key was made with", err)
	}
	return key, err
}

// readPassword returns $COSIGN_PASSWORD when it is set (even empty), else asks for the
// password on the terminal (twice with confirm). fromEnv says which.
func readPassword(cmd *cobra.Command, prompt string, confirm bool) (pw []byte, fromEnv bool, err error) {
	if p, ok := os.LookupEnv(passwordEnv); ok {
		return []byte(p), true, nil
	}
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return nil, false, fmt.Errorf("set $%s to the password (there is no terminal to ask for it on)", passwordEnv)
	}
	ask := func(p string) ([]byte, error) {
		b, err := readSecret(int(in.Fd()), func() { fmt.Fprint(cmd.ErrOrStderr(), p) })
		fmt.Fprintln(cmd.ErrOrStderr())
		return b, err
	}
	if pw, err = ask(prompt); err != nil {
		return nil, false, fmt.Errorf("reading the password: %w", err)
	}
	if confirm {
		again, err := ask("Enter password again: ")
		if err != nil {
			return nil, false, fmt.Errorf("reading the password: %w", err)
		}
		if !bytes.Equal(pw, again) {
			return nil, false, errors.New("the two passwords differ")
		}
	}
	return pw, false, nil
}

func newImageKeygenCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make a cosign key pair to sign images with (cosign.key, cosign.pub)",
		Long: `Make an ECDSA P-256 key pair in cosign's formats, as cosign generate-key-pair does:
PREFIX.key, the private key encrypted with a password ($COSIGN_PASSWORD, else asked for twice),
and PREFIX.pub, the public key to trust (--public-keys, or publicKeys in the config file).
Existing files are not overwritten.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			priv, pub := prefix+".key", prefix+".pub"
			for _, p := range []string{priv, pub} {
				if _, err := os.Lstat(p); err == nil {
					return fmt.Errorf("image keygen: %s exists: remove it or choose another --output-key-prefix", p)
				} else if !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("image keygen: %w", err)
				}
			}
			pw, _, err := readPassword(cmd, "Enter password for the private key: ", true)
			if err != nil {
				return fmt.Errorf("image keygen: %w", err)
			}
			privPEM, pubPEM, id, err := oci.GenerateKeyPair(pw)
			if err != nil {
				return fmt.Errorf("image keygen: %w", err)
			}
			if err := writeNew(priv, privPEM, 0o600); err != nil {
				return fmt.Errorf("image keygen: %w", err)
			}
			if err := writeNew(pub, pubPEM, 0o644); err != nil {
				os.Remove(priv)
				return fmt.Errorf("image keygen: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "private key written to %s\npublic key written to %s (key %s)\n", priv, pub, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "write PREFIX.key and PREFIX.pub")
	return cmd
}

// writeNew creates path (it must not exist) holding b.
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, bytes.NewReader(b)); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
