// Package testrepo serves a small, signed apt repository on 127.0.0.1 for
// tests, with knobs to break it (expired, tampered, unsigned, failing).
// It must not be used outside tests and never contacts any other host.
package testrepo
