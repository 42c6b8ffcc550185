// Package scripting compiles MScript, the JavaScript expression language of
// hub specs, and runs it in a pool of goja runtimes with the service library
// (lib), logging (log) and a key-value store (kv).
//
// Programs are compiled once (Compile) and evaluated many times (Engine.Eval,
// Engine.EvalBool) with named context variables. Calls with the same affinity
// (a room id) always run, one at a time, on the same runtime, so lib modules
// can keep per-room state in module variables; different rooms run in
// parallel. Every call has a deadline, a call-stack cap and an input size
// guard, and Go panics become errors. See docs/scripting.md.
package scripting
