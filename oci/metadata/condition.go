package metadata

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Condition is a test of one parameter's value: "key=value" or "key!=value".
type Condition struct {
	// Param is the parameter's key as the user sets it ("ignore-failed").
	Param string
	// Value is the value compared with.
	Value string
	// Negate makes the condition hold when the parameter differs from Value.
	Negate bool
}

// ParseCondition parses "key=value" or "key!=value".
func ParseCondition(s string) (*Condition, error) {
	c := &Condition{}
	key, val, ok := strings.Cut(s, "!=")
	if ok {
		c.Negate = true
	} else if key, val, ok = strings.Cut(s, "="); !ok {
		return nil, fmt.Errorf("condition %q: want key=value or key!=value", s)
	}
	c.Param, c.Value = strings.TrimSpace(key), strings.TrimSpace(val)
	if c.Param == "" {
		return nil, fmt.Errorf("condition %q: missing the parameter's key", s)
	}
	return c, nil
}

// Holds reports whether the condition holds for the parameter's value.
func (c *Condition) Holds(value string) bool {
	return (value == c.Value) != c.Negate
}

// String returns the condition as written in gadget.yaml.
func (c *Condition) String() string {
	if c.Negate {
		return c.Param + "!=" + c.Value
	}
	return c.Param + "=" + c.Value
}

// MarshalYAML writes the condition back as its string form.
func (c *Condition) MarshalYAML() (any, error) { return c.String(), nil }

// MarshalJSON writes the condition as its string form, as in gadget.yaml.
func (c *Condition) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }
