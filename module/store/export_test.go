package store

// WithExecMode is withExecMode, for the external tests.
var WithExecMode = withExecMode
