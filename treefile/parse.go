package treefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// isYAML reports whether a treefile is read as YAML; like rpm-ostree, anything
// not named .yaml/.yml is JSON.
func isYAML(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return true
	}
	return false
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument turns a treefile's bytes into the root mapping node; every
// node carries its line so later errors can name file:line.
func parseDocument(file string, data []byte) (*yaml.Node, error) {
	var root *yaml.Node
	if isYAML(file) {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, &Error{File: file, Msg: "empty treefile (want a mapping of keys)"}
			}
			return nil, yamlError(file, err)
		}
		var next yaml.Node
		if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
			line := next.Line
			if err != nil {
				return nil, yamlError(file, err)
			}
			return nil, &Error{File: file, Line: line, Msg: "more than one YAML document; a treefile is a single mapping"}
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			return nil, &Error{File: file, Msg: "empty treefile (want a mapping of keys)"}
		}
		root = doc.Content[0]
	} else {
		var err error
		if root, err = parseJSON(file, data); err != nil {
			return nil, err
		}
	}
	root = deref(root)
	if root == nil || root.Kind != yaml.MappingNode {
		line := 0
		if root != nil {
			line = root.Line
		}
		return nil, &Error{File: file, Line: line, Msg: fmt.Sprintf("top level is %s, want a mapping of keys", describe(root))}
	}
	return root, nil
}

func yamlError(file string, err error) error {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Msg: "invalid YAML", Err: err}
}

// parseJSON builds the same node tree the YAML decoder would, from
// encoding/json tokens. The YAML decoder cannot be used directly: it rejects
// valid JSON such as the escape "\/" and UTF-16 surrogate pairs.
func parseJSON(file string, data []byte) (*yaml.Node, error) {
	p := &jsonParser{file: file, data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	for i, b := range data {
		if b == '\n' {
			p.lineStarts = append(p.lineStarts, i+1)
		}
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &Error{File: file, Line: p.line(p.start()), Msg: "invalid JSON: data after the top-level value"}
	}
	return n, nil
}

type jsonParser struct {
	file       string
	data       []byte
	dec        *json.Decoder
	lineStarts []int // offsets where lines 2, 3, ... begin
}

// maxNesting bounds recursion on hostile input (JSON here, YAML aliases elsewhere).
const maxNesting = 100

// start is the offset of the next token: the decoder's offset skips past the
// previous token only, not the separators that follow it.
func (p *jsonParser) start() int {
	off := int(p.dec.InputOffset())
	for off < len(p.data) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

func (p *jsonParser) line(off int) int {
	return sort.SearchInts(p.lineStarts, off+1) + 1
}

func (p *jsonParser) syntaxError(err error) error {
	line := p.line(p.start())
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line = p.line(int(se.Offset))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{File: p.file, Line: line, Msg: "invalid JSON: unexpected end of file"}
	}
	return &Error{File: p.file, Line: line, Msg: "invalid JSON", Err: err}
}

func (p *jsonParser) value(depth int) (*yaml.Node, error) {
	if depth > maxNesting {
		return nil, &Error{File: p.file, Line: p.line(p.start()), Msg: "invalid JSON: nested too deeply"}
	}
	line := p.line(p.start())
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntaxError(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line}
			for p.dec.More() {
				kline := p.line(p.start())
				ktok, err := p.dec.Token()
				if err != nil {
					return nil, p.syntaxError(err)
				}
				key, _ := ktok.(string) // encoding/json guarantees object keys are strings
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: kline}, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntaxError(err)
			}
			return n, nil
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: line}
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntaxError(err)
			}
			return n, nil
		}
		return nil, &Error{File: p.file, Line: line, Msg: fmt.Sprintf("invalid JSON: unexpected %q", t)}
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t, Line: line, Style: yaml.DoubleQuotedStyle}, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(t.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String(), Line: line}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t), Line: line}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: line}, nil
	}
	return nil, &Error{File: p.file, Line: line, Msg: fmt.Sprintf("invalid JSON: unexpected token %v", tok)}
}

// deref follows YAML aliases (*name) to the anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxNesting; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// describe names a node's type for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int":
			return "the integer " + n.Value
		case "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!null":
			return "null"
		case "!!timestamp":
			return "the timestamp " + n.Value
		}
		return fmt.Sprintf("a %s value", n.ShortTag())
	}
	return "an unsupported YAML node"
}
