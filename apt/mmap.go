package apt

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps path read-only. The parser copies every byte it keeps, so
// the mapping can be released right after parsing; this saves reading
// (and zeroing) a 60 MB buffer for a cached archive index. Callers hold
// the cache lock, so the file is not truncated underneath.
func mapFile(path string) (data []byte, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() == 0 {
		return nil, func() {}, nil
	}
	data, err = unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		// Some filesystems cannot map; fall back to reading.
		b, rerr := os.ReadFile(path)
		return b, func() {}, rerr
	}
	return data, func() { unix.Munmap(data) }, nil
}
