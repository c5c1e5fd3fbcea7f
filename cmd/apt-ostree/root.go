package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time with -ldflags "-X main.version=..."; without it
// the module version from the build info is used.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// globalFlags are the flags every command shares.
type globalFlags struct {
	verbose bool
	json    bool
}

var global globalFlags

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "apt-ostree",
		Short:         "Build Debian OSTree commits and bootc images",
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelInfo
			if global.verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
		},
	}
	root.PersistentFlags().BoolVarP(&global.verbose, "verbose", "v", false, "log debug messages to stderr")
	root.PersistentFlags().BoolVar(&global.json, "json", false, "print results as JSON")
	root.AddCommand(
		newComposeCmd(),
		newLintCmd(), newContainerCmd(),
	)
	root.InitDefaultCompletionCmd()
	markUsageErrors(root)
	return root
}

// markUsageErrors makes every malformed command line an error main maps to
// exit status 2: an unknown subcommand (cobra would print the parent's help
// and succeed), an unknown flag, a wrong number of arguments, a missing
// required flag. A parent command run alone prints its help.
func markUsageErrors(c *cobra.Command) {
	usage := func(cmd *cobra.Command, err error) error {
		if err == nil {
			return nil
		}
		return usageError{cmd: cmd.CommandPath(), err: err}
	}
	if c.HasSubCommands() {
		if c.Args == nil {
			c.Args = cobra.NoArgs
		}
		if c.Run == nil && c.RunE == nil {
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
	}
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error { return usage(cmd, args(cmd, a)) }
	}
	// PreRunE runs before cobra's own required-flag check, so this one
	// reports it as a usage error.
	preRun := c.PreRunE
	c.PreRunE = func(cmd *cobra.Command, args []string) error {
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usage(cmd, err)
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usage(cmd, err)
		}
		if preRun != nil {
			return preRun(cmd, args)
		}
		return nil
	}
	c.SetFlagErrorFunc(usage)
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
}

// printJSON writes v as indented JSON; commands use it when --json is set.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
