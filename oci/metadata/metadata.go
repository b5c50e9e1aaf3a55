// Package metadata reads a gadget's metadata file, gadget.yaml: its name and links, how its data
// sources and fields are shown, its parameters and per-program overrides
// (docs/image-format.md, gadget-abi §2).
//
// Parsing is strict: an unknown key, a key given twice or a value of the wrong type is an error
// that names the line, so a typo in a gadget.yaml is found when the image is built or loaded,
// not silently ignored.
package metadata

// Metadata is the content of a gadget.yaml.
type Metadata struct {
	// Name is the gadget's short name ("trace_exec").
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Description is a one-line summary of what the gadget shows.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Category groups gadgets in listings ("observer"); Inspektor Gadget's gadgets set it.
	Category string `yaml:"category,omitempty" json:"category,omitempty"`
	// HomepageURL, DocumentationURL and SourceURL are links for humans; they become the
	// image's url, documentation and source annotations.
	HomepageURL      string `yaml:"homepageURL,omitempty" json:"homepageURL,omitempty"`
	DocumentationURL string `yaml:"documentationURL,omitempty" json:"documentationURL,omitempty"`
	SourceURL        string `yaml:"sourceURL,omitempty" json:"sourceURL,omitempty"`
	// Annotations are free-form key/value settings of the gadget as a whole.
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
	// DataSources holds per data source settings, by data source name.
	DataSources map[string]*DataSource `yaml:"datasources,omitempty" json:"datasources,omitempty"`
	// Params describes the gadget's parameters.
	Params Params `yaml:"params,omitempty" json:"params,omitempty"`
	// Programs holds per eBPF program settings, by program name.
	Programs map[string]*Program `yaml:"programs,omitempty" json:"programs,omitempty"`
	// ParamDefaults overrides parameters' defaults by the parameter's full name in Inspektor
	// Gadget's namespace ("operator.oci.ebpf.map-fetch-interval": "0"); IG's key.
	ParamDefaults map[string]string `yaml:"paramDefaults,omitempty" json:"paramDefaults,omitempty"`
	// Operator holds Inspektor Gadget's per-operator settings (operator.<operator>.<key>),
	// kept as written: Gadgetry has no operators and does not apply them.
	Operator map[string]any `yaml:"operator,omitempty" json:"operator,omitempty"`
}

// DataSource holds the settings of one data source.
type DataSource struct {
	// Annotations are the data source's settings (e.g. "cli.clear-screen-before").
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
	// Fields holds per field settings, by field name.
	Fields map[string]*Field `yaml:"fields,omitempty" json:"fields,omitempty"`
}

// Field holds the settings of one field of a data source.
type Field struct {
	// Annotations are the field's settings ("description", "columns.width",
	// "columns.hidden", "columns.alignment", "json.skip", "template", ...).
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
}

// Params groups the parameters by where their value goes.
type Params struct {
	// EBPF describes parameters that set a `const volatile` global of the eBPF object, by the
	// global's name.
	EBPF map[string]*Param `yaml:"ebpf,omitempty" json:"ebpf,omitempty"`
	// WASM describes parameters the WASM module reads with getParamValue, by key.
	WASM map[string]*Param `yaml:"wasm,omitempty" json:"wasm,omitempty"`
	// Custom holds Inspektor Gadget's metadata-patching parameters, kept as written (Gadgetry
	// does not apply them) so images that have them still load.
	Custom map[string]any `yaml:"custom,omitempty" json:"custom,omitempty"`
}

// Param describes one parameter.
type Param struct {
	// Key is the parameter's name on the command line (--key).
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// DefaultValue is the value used when the user gives none, as text.
	DefaultValue string `yaml:"defaultValue,omitempty" json:"defaultValue,omitempty"`
	// Description is the parameter's help text.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Alias is an optional one-letter short flag.
	Alias string `yaml:"alias,omitempty" json:"alias,omitempty"`
	// Title is an optional human title for UIs.
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
	// TypeHint names the value's type ("bool", "uint32", "duration", ...) when BTF does not
	// say it (WASM parameters).
	TypeHint string `yaml:"typeHint,omitempty" json:"typeHint,omitempty"`
	// ValueHint hints what the value means ("pid", "k8s:namespace", ...).
	ValueHint string `yaml:"valueHint,omitempty" json:"valueHint,omitempty"`
	// PossibleValues restricts the value to this list when not empty.
	PossibleValues []string `yaml:"possibleValues,omitempty" json:"possibleValues,omitempty"`
	// IsMandatory says the user must give a value.
	IsMandatory bool `yaml:"isMandatory,omitempty" json:"isMandatory,omitempty"`
	// AlternativeKey is another name for the parameter (Inspektor Gadget's key; kept, not
	// used as a flag).
	AlternativeKey string `yaml:"alternativeKey,omitempty" json:"alternativeKey,omitempty"`
	// Tags are free-form labels of the parameter (Inspektor Gadget's key).
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Program holds the settings of one eBPF program.
type Program struct {
	// AttachTo overrides the program's attach target; DisabledProgram skips the program.
	AttachTo string `yaml:"attach_to,omitempty" json:"attach_to,omitempty"`
	// Optional lets a run go on, with a warning, when the kernel cannot attach this program
	// (a Gadgetry extension of the format).
	Optional bool `yaml:"optional,omitempty" json:"optional,omitempty"`
	// EnabledIf attaches the program only when a parameter has a given value
	// ("ignore-failed=false"), so a gadget pays for a costly hook only when the user asks for
	// what it feeds. A Gadgetry extension: hosts that do not know it attach the program always.
	EnabledIf *Condition `yaml:"enabled_if,omitempty" json:"enabled_if,omitempty"`
	// Affects says what an optional program feeds, as a user should read it: field names,
	// narrowed where only some events depend on the program ("fupper_layer of scripts"). When
	// every program of a hook is skipped, the run warns once, naming the hook and these as
	// unknown. A Gadgetry extension.
	Affects []string `yaml:"affects,omitempty" json:"affects,omitempty"`
	// Alternative makes the program one of several ways of doing one thing, chosen by a
	// parameter ("mechanism=lsm"): the program runs only when that choice is made. A value the
	// parameter's possibleValues list but no program names (e.g. "auto") lets the runtime pick
	// the first value, in possibleValues order, whose programs the kernel can run. A Gadgetry
	// extension.
	Alternative *Condition `yaml:"alternative,omitempty" json:"alternative,omitempty"`
	// Perf configures a perf_event program's event (Inspektor Gadget's programs.<p>.perf).
	Perf *Perf `yaml:"perf,omitempty" json:"perf,omitempty"`
	// Sampler sets how often a perf_event program's event fires (programs.<p>.sampler).
	Sampler *Sampler `yaml:"sampler,omitempty" json:"sampler,omitempty"`
}

// Perf is the perf event a perf_event program is attached to, in Inspektor Gadget's terms:
// type "software", config "count_sw_cpu_clock", sampleType "sample_raw".
type Perf struct {
	// Type is the event's type ("software").
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Config is the event ("count_sw_cpu_clock").
	Config string `yaml:"config,omitempty" json:"config,omitempty"`
	// SampleType is what a sample records ("sample_raw").
	SampleType string `yaml:"sampleType,omitempty" json:"sampleType,omitempty"`
}

// Sampler sets the sampling of a perf_event program.
type Sampler struct {
	// Frequency is the number of samples per second on each CPU.
	Frequency uint64 `yaml:"frequency,omitempty" json:"frequency,omitempty"`
}

// DisabledProgram is the Program.AttachTo value that skips a program.
const DisabledProgram = "gadget_program_disabled"
