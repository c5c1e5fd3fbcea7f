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
	return root
}

// printJSON writes v as indented JSON; commands use it when --json is set.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
