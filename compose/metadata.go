package compose

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// extraMetadata is compose tree's extra commit metadata.
func extraMetadata(opts TreeOptions) (map[string]any, error) {
	return parseMetadata(opts.AddMetadata, opts.AddMetadataJSON)
}

// parseMetadata is the commit metadata a user adds with
// --add-metadata-from-json (a file holding one JSON object) and
// --add-metadata-string KEY=VALUE, which wins over the file. compose tree
// and compose commit both read it here.
func parseMetadata(kvs []string, jsonFile string) (map[string]any, error) {
	md := map[string]any{}
	if jsonFile != "" {
		data, err := os.ReadFile(jsonFile)
		if err != nil {
			return nil, fmt.Errorf("--add-metadata-from-json: %w", err)
		}
		var obj map[string]any
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("--add-metadata-from-json %s: must be a JSON object: %w", jsonFile, err)
		}
		for k, v := range obj {
			gv, err := jsonToMetadata(v)
			if err != nil {
				return nil, fmt.Errorf("--add-metadata-from-json %s: key %q: %w", jsonFile, k, err)
			}
			md[k] = gv
		}
	}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--add-metadata-string %q: want KEY=VALUE", kv)
		}
		md[k] = v
	}
	return md, nil
}

// jsonToMetadata maps JSON values onto the GVariant types ostree tools
// expect: strings, booleans, integers as int64, string lists.
func jsonToMetadata(v any) (any, error) {
	switch v := v.(type) {
	case string, bool:
		return v, nil
	case float64:
		if v == float64(int64(v)) {
			return int64(v), nil
		}
		return nil, fmt.Errorf("%v: only whole numbers are supported", v)
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("only lists of strings are supported")
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported JSON value %v", v)
}
