package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// newLoginCmd is `login REGISTRY` (also `image login`): check credentials and save them in the
// Docker config file, as `docker login` and `oras login` do.
func newLoginCmd() *cobra.Command {
	var user, password string
	var passwordStdin bool
	var f *ociFlags
	cmd := &cobra.Command{
		Use:   "login REGISTRY",
		Short: "Save credentials for a registry (after checking them) in the Docker config file",
		Long: `Check a user name and password against REGISTRY (host or host:port) and save them in the
Docker config file (--authfile, else $DOCKER_CONFIG/config.json or ~/.docker/config.json), where
docker, oras and cosign find them too. On a terminal, what the flags do not give is asked for
(the password without echo); elsewhere give --username and --password-stdin.`,
		Example: `  gadgetry login localhost:5000
  echo "$PASSWORD" | gadgetry login registry.example.com -u ci --password-stdin`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host := args[0]
			in := cmd.InOrStdin()
			tty := isTerminal(in)
			var lines *bufio.Reader
			if passwordStdin {
				if password != "" {
					return &cliUsageError{"login: give the password with --password or --password-stdin, not both"}
				}
				lines = bufio.NewReader(in)
				line, err := lines.ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("login: reading the password from stdin: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if user == "" {
				if !tty || passwordStdin {
					return &cliUsageError{"login: give the user name with --username (there is no terminal to ask for it on)"}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Username for %s: ", host)
				line, err := bufio.NewReader(in).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("login: reading the user name: %w", err)
				}
				if user = strings.TrimSpace(line); user == "" {
					return errors.New("login: no user name given")
				}
			}
			if password == "" {
				if !tty {
					return &cliUsageError{"login: give the password with --password-stdin (there is no terminal to ask for it on)"}
				}
				b, err := readSecret(int(in.(*os.File).Fd()), func() {
					fmt.Fprintf(cmd.ErrOrStderr(), "Password for %s@%s: ", user, host)
				})
				fmt.Fprintln(cmd.ErrOrStderr())
				if err != nil {
					return fmt.Errorf("login: reading the password: %w", err)
				}
				if password = string(b); password == "" {
					return errors.New("login: no password given")
				}
			}
			reg, err := f.registry()
			if err != nil {
				return err
			}
			if err := reg.Login(cmd.Context(), host, user, password); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged in to %s as %s\n", host, user)
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "user name (asked for on a terminal when not given)")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (visible to other users in the process list: prefer --password-stdin or the prompt)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	f = bindRegistryFlags(cmd.Flags())
	return cmd
}

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newLogoutCmd is `logout REGISTRY` (also `image logout`): forget the saved credentials.
func newLogoutCmd() *cobra.Command {
	var f *ociFlags
	cmd := &cobra.Command{
		Use:   "logout REGISTRY",
		Short: "Remove the saved credentials of a registry from the Docker config file",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := f.registry()
			if err != nil {
				return err
			}
			if err := reg.Logout(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged out of %s\n", args[0])
			return nil
		},
	}
	f = bindRegistryFlags(cmd.Flags())
	return cmd
}

// readSecret reads a line from the terminal fd without echoing it, turning the echo off
// before prompt is printed: typed (or pasted) characters that follow the prompt before the echo
// is off would be shown (term.ReadPassword alone prompts too early when called after the
// prompt). The terminal's settings are restored afterwards.
func readSecret(fd int, prompt func()) ([]byte, error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	prompt()
	return term.ReadPassword(fd)
}
