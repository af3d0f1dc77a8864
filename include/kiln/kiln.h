/* Kiln's C API: a thin layer over the C++ API in kiln.hpp, for C and other languages.
 *
 * Ownership: every `*_new` result is freed with its `*_delete`; every kiln_error_t* returned is
 * the caller's and is freed with kiln_error_delete. Functions that can fail return a
 * kiln_error_t* (NULL on success) and reject NULL handles and NULL required pointers with an error
 * of kind KILN_ERROR_USAGE. Functions that cannot fail (setters, queries) do nothing, or return
 * 0, false or NULL, when given a NULL handle.
 *
 * Objects of a store (instances, functions, memories, globals) are small copyable structs owned
 * by their store: they stay valid until the store is deleted, are used only with that store (any
 * other store refuses them), and need no delete.
 *
 * Threads: engines and modules may be shared by any number of threads. A store, and everything
 * in it, is used by one thread at a time; make one store per thread. An interrupt handle may be
 * used from any thread, even after its store was deleted.
 */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- handles ---------------------------------------------------------------------------- */

/** Configuration shared by modules and stores; shareable across threads. */
typedef struct kiln_engine kiln_engine_t;
/** A compiled module: immutable, shareable across threads, instantiable many times. */
typedef struct kiln_module kiln_module_t;
/** Owns instances and their memories, tables and globals, and the limits of their calls. */
typedef struct kiln_store kiln_store_t;
/** Host functions and instances to resolve imports against; usable with any store. */
typedef struct kiln_linker kiln_linker_t;
/** What a host function sees of its caller; valid only during the callback. */
typedef struct kiln_caller kiln_caller_t;
/** An error: a kind, a message and, for traps, a trap kind and a wasm backtrace. */
typedef struct kiln_error kiln_error_t;
/** Stops the running call of one store from any thread. */
typedef struct kiln_interrupt_handle kiln_interrupt_handle_t;

/** An instantiated module, owned by its store (the fields are opaque). */
typedef struct kiln_instance {
    uint64_t store_id;
    void* impl;
} kiln_instance_t;
/** A function of a store, exported by an instance (the fields are opaque). */
typedef struct kiln_func {
    uint64_t store_id;
    void* impl;
} kiln_func_t;
/** A linear memory of a store (the fields are opaque). */
typedef struct kiln_memory {
    uint64_t store_id;
    void* impl;
} kiln_memory_t;
/** A global of a store (the fields are opaque). */
typedef struct kiln_global {
    uint64_t store_id;
    void* impl;
} kiln_global_t;

/* ---- values ----------------------------------------------------------------------------- */

/** Value types, with their binary encodings. */
typedef enum kiln_valkind {
    KILN_I32 = 0x7f,
    KILN_I64 = 0x7e,
    KILN_F32 = 0x7d,
    KILN_F64 = 0x7c,
    KILN_V128 = 0x7b,
    KILN_FUNCREF = 0x70,
    KILN_EXTERNREF = 0x6f,
} kiln_valkind_t;

/** A typed value. References are opaque words: 0 is null; a non-null funcref must come from
 *  wasm, an externref is any non-zero word of the host's choosing. A v128 is 16 bytes, lane 0
 *  first (WebAssembly's lane order). */
typedef struct kiln_val {
    kiln_valkind_t kind;
    union {
        int32_t i32;
        int64_t i64;
        float f32;
        double f64;
        uint64_t ref;
        uint8_t v128[16];
    } of;
} kiln_val_t;

/** An i32 value. */
static inline kiln_val_t kiln_val_i32(int32_t v) {
    kiln_val_t r;
    r.kind = KILN_I32;
    r.of.i64 = 0;
    r.of.i32 = v;
    return r;
}
/** An i64 value. */
static inline kiln_val_t kiln_val_i64(int64_t v) {
    kiln_val_t r;
    r.kind = KILN_I64;
    r.of.i64 = v;
    return r;
}
/** An f32 value. */
static inline kiln_val_t kiln_val_f32(float v) {
    kiln_val_t r;
    r.kind = KILN_F32;
    r.of.i64 = 0;
    r.of.f32 = v;
    return r;
}
/** An f64 value. */
static inline kiln_val_t kiln_val_f64(double v) {
    kiln_val_t r;
    r.kind = KILN_F64;
    r.of.f64 = v;
    return r;
}
/** A v128 value from its 16 bytes, lane 0 first. */
static inline kiln_val_t kiln_val_v128(const uint8_t bytes[16]) {
    kiln_val_t r;
    r.kind = KILN_V128;
    for (int i = 0; i < 16; ++i)
        r.of.v128[i] = bytes[i];
    return r;
}

/** What an import or export is. */
typedef enum kiln_externkind {
    KILN_EXTERN_FUNC = 0,
    KILN_EXTERN_TABLE = 1,
    KILN_EXTERN_MEMORY = 2,
    KILN_EXTERN_GLOBAL = 3,
} kiln_externkind_t;

/* ---- errors ----------------------------------------------------------------------------- */

/** What went wrong, coarsely (kiln::ErrorKind; the kinds are listed in kiln/error_kinds.def):
 *  KILN_ERROR_MALFORMED, _INVALID, _UNLINKABLE, _UNINSTANTIABLE, _TRAP (see
 *  kiln_error_trap_kind), _SUSPENDED (see kiln_store_resume), _IO, _USAGE (a NULL handle, a wrong
 *  type...), _LIMIT, _EXIT (see kiln_error_exit_code), _PLUGIN. */
typedef enum kiln_error_kind {
#define KILN_ERROR_KIND(name, NAME, value, text) KILN_ERROR_##NAME = value,
#include <kiln/error_kinds.def>
} kiln_error_kind_t;

/** Why execution stopped abnormally (kiln::TrapKind; listed in kiln/error_kinds.def). */
typedef enum kiln_trap_kind {
#define KILN_TRAP_KIND(name, NAME, value, text) KILN_TRAP_##NAME = value,
#include <kiln/error_kinds.def>
} kiln_trap_kind_t;

/** An error for a host callback to return: the guest traps (KILN_TRAP_HOST_ERROR) with
 *  `message`; a message that is a trap's ("trap: X (in F)", a nested call's error passed on as
 *  text) is taken back to X, so that recursion does not repeat it. */
kiln_error_t* kiln_error_new(const char* message);
/** Frees an error; NULL is ignored. */
void kiln_error_delete(kiln_error_t* error);
/** The message, a sentence a person can act on; owned by the error. */
const char* kiln_error_message(const kiln_error_t* error);
/** The error's kind. */
kiln_error_kind_t kiln_error_kind(const kiln_error_t* error);
/** The kiln_trap_kind_t of a trap (or, for KILN_ERROR_SUSPENDED, why it stopped); else -1. */
int kiln_error_trap_kind(const kiln_error_t* error);
/** For KILN_ERROR_EXIT, the code the program exited with; else 0. */
int32_t kiln_error_exit_code(const kiln_error_t* error);
/** Frames active at the trap, innermost first (0 when not a trap). */
size_t kiln_error_backtrace_count(const kiln_error_t* error);
/** Frame `index` of the backtrace as printed: a name-section name, an export name, "func[N]" or
 *  "<host function>"; NULL past the end. Owned by the error. */
const char* kiln_error_backtrace_frame(const kiln_error_t* error, size_t index);
/** The value of kiln_error_frame_func_index for a host function's frame. */
#define KILN_HOST_FUNC_INDEX UINT32_MAX
/** Frame `index`'s function index in its module (KILN_HOST_FUNC_INDEX for a host function and
 *  past the end). */
uint32_t kiln_error_frame_func_index(const kiln_error_t* error, size_t index);
/** Frame `index`'s function name (name section, else an export name, else ""); NULL past the
 *  end. Owned by the error. */
const char* kiln_error_frame_func_name(const kiln_error_t* error, size_t index);
/** Frame `index`'s module name from the module's name section, else ""; NULL past the end. Owned
 *  by the error. */
const char* kiln_error_frame_module_name(const kiln_error_t* error, size_t index);
/** Frame `index`'s byte offset in the module binary: of the trapping instruction for frame 0, of
 *  the call it is making for the others; 0 for a host function and past the end. */
uint32_t kiln_error_frame_code_offset(const kiln_error_t* error, size_t index);
/** "malformed", "trap", ...; "unknown" for a value that is no kind. */
const char* kiln_error_kind_name(kiln_error_kind_t kind);
/** "unreachable", "out of fuel", ...; "unknown" for a value that is no kind. */
const char* kiln_trap_kind_name(kiln_trap_kind_t kind);

/* ---- engine and modules ----------------------------------------------------------------- */

/** Proposals past WebAssembly 2.0, as bits of kiln_engine_config_t::disabled_features. */
typedef enum kiln_feature {
    KILN_FEATURE_SIMD = 1 << 0,      /**< fixed-width SIMD: the v128 type, the 0xFD instructions */
    KILN_FEATURE_TAIL_CALL = 1 << 1, /**< return_call and return_call_indirect */
    KILN_FEATURE_EXTENDED_CONST = 1 << 2, /**< i32/i64 add, sub, mul in constant expressions */
} kiln_feature_t;

/** Limits that bound every store of an engine, and the proposals its modules may not use; a
 *  zero field keeps the default. */
typedef struct kiln_engine_config {
    uint32_t max_call_depth;  /**< nested wasm calls per call from the host (default 20000) */
    uint64_t max_stack_slots; /**< 8-byte value-stack slots per store (default 2^21) */
    /** kiln_feature_t bits: a module using one of these fails to compile, the error naming the
     *  feature (default 0: every feature is accepted) */
    uint32_t disabled_features;
} kiln_engine_config_t;

/** A new engine; `config` may be NULL for the defaults. NULL when out of memory. */
kiln_engine_t* kiln_engine_new(const kiln_engine_config_t* config);
/** Frees an engine; its modules and stores keep what they need and stay usable. */
void kiln_engine_delete(kiln_engine_t* engine);

/** Decodes, validates and compiles a binary module into `*out`. */
kiln_error_t* kiln_module_new(const kiln_engine_t* engine, const uint8_t* bytes, size_t len,
                              kiln_module_t** out);
/** Reads and compiles a .wasm file into `*out`; errors name the file. */
kiln_error_t* kiln_module_from_file(const kiln_engine_t* engine, const char* path,
                                    kiln_module_t** out);
/** Frees a module; instances made from it stay usable. */
void kiln_module_delete(kiln_module_t* module);
/** Number of imports. */
size_t kiln_module_import_count(const kiln_module_t* module);
/** Import `index`: its module and field names (owned by the module) and kind; each out pointer
 *  may be NULL. False when `index` is out of range. */
bool kiln_module_import(const kiln_module_t* module, size_t index, const char** module_name,
                        const char** name, kiln_externkind_t* kind);
/** Number of exports. */
size_t kiln_module_export_count(const kiln_module_t* module);
/** Export `index`: its name (owned by the module) and kind; each out pointer may be NULL. False
 *  when `index` is out of range. */
bool kiln_module_export(const kiln_module_t* module, size_t index, const char** name,
                        kiln_externkind_t* kind);

/* ---- stores and limits ------------------------------------------------------------------ */

/** A new, empty store; NULL when `engine` is NULL or memory runs out. */
kiln_store_t* kiln_store_new(const kiln_engine_t* engine);
/** Frees a store and everything in it. */
void kiln_store_delete(kiln_store_t* store);
/** Total bytes all memories of the store may use: memory.grow past it returns -1, an initial
 *  size past it fails instantiation. */
void kiln_store_set_memory_limit(kiln_store_t* store, uint64_t bytes);
/** Total elements all tables of the store may hold; same rules as memory. */
void kiln_store_set_table_limit(kiln_store_t* store, uint64_t elements);
/** Turns on deterministic fuel metering with this much fuel. */
void kiln_store_set_fuel(kiln_store_t* store, uint64_t fuel);
/** Adds fuel, turning metering on. */
void kiln_store_add_fuel(kiln_store_t* store, uint64_t fuel);
/** Fuel left into `*fuel`; false when metering is off. */
bool kiln_store_get_fuel(const kiln_store_t* store, uint64_t* fuel);
/** Turns fuel metering off. */
void kiln_store_disable_fuel(kiln_store_t* store);
/** When fuel runs out, suspend the call (KILN_ERROR_SUSPENDED, resumable) instead of trapping. */
void kiln_store_set_suspend_on_fuel(kiln_store_t* store, bool suspend);
/** Wall-clock limit of each call from the host in milliseconds (0 disables; values past about
 *  30 years are clamped); past it the call traps with KILN_TRAP_DEADLINE. */
void kiln_store_set_timeout_ms(kiln_store_t* store, uint64_t milliseconds);
/** Lowers the engine's limits on nested wasm calls and value-stack slots for this store. */
void kiln_store_set_stack_limits(kiln_store_t* store, uint32_t max_call_depth,
                                 uint64_t max_stack_slots);
/** After a call traps its instance refuses further calls (KILN_ERROR_USAGE) unless this is set. */
void kiln_store_set_reuse_after_trap(kiln_store_t* store, bool allow);
/** True while a call is suspended. */
bool kiln_store_has_suspended(const kiln_store_t* store);
/** Continues the suspended call; on completion writes its results, whose count must be the
 *  suspended function's. It may suspend again. */
kiln_error_t* kiln_store_resume(kiln_store_t* store, kiln_val_t* results, size_t nresults);
/** Abandons the suspended call, if any. */
void kiln_store_drop_suspended(kiln_store_t* store);

/** A handle that stops the store's running call from any thread; NULL when `store` is NULL. */
kiln_interrupt_handle_t* kiln_interrupt_handle_new(const kiln_store_t* store);
/** The running call traps with KILN_TRAP_INTERRUPTED (an idle store ignores it). */
void kiln_interrupt_handle_interrupt(const kiln_interrupt_handle_t* handle);
/** The running call stops resumably with KILN_ERROR_SUSPENDED (see kiln_store_resume). */
void kiln_interrupt_handle_suspend(const kiln_interrupt_handle_t* handle);
/** Frees a handle; the store is not affected. */
void kiln_interrupt_handle_delete(kiln_interrupt_handle_t* handle);

/* ---- host functions and linking --------------------------------------------------------- */

/** A host function: reads `nargs` typed arguments and writes `nresults` results (their kinds
 *  are preset). Returning an error (e.g. from kiln_error_new) traps the guest with its message;
 *  the engine frees it. */
typedef kiln_error_t* (*kiln_func_callback_t)(void* env, kiln_caller_t* caller,
                                              const kiln_val_t* args, size_t nargs,
                                              kiln_val_t* results, size_t nresults);

/** A new, empty linker. */
kiln_linker_t* kiln_linker_new(void);
/** Frees a linker; definitions still used by a live store are released with that store. */
void kiln_linker_delete(kiln_linker_t* linker);
/** Defines host function `module`.`name` with this type, replacing an earlier definition. The
 *  linker then owns `env`: `finalizer` (may be NULL) is called on it exactly once, when neither
 *  the linker nor any store instantiated with the definition uses it any more. On error `env`
 *  stays the caller's. */
kiln_error_t* kiln_linker_define_func(kiln_linker_t* linker, const char* module, const char* name,
                                      const kiln_valkind_t* params, size_t nparams,
                                      const kiln_valkind_t* results, size_t nresults,
                                      kiln_func_callback_t callback, void* env,
                                      void (*finalizer)(void* env));
/** Makes every export of `instance` (of `store`) importable as `module`, for that store only. */
kiln_error_t* kiln_linker_define_instance(kiln_linker_t* linker, kiln_store_t* store,
                                          const char* module, const kiln_instance_t* instance);
/** Resolves every import (an unlinkable error names the first missing one), instantiates into
 *  `store` and runs the start function. */
kiln_error_t* kiln_linker_instantiate(const kiln_linker_t* linker, kiln_store_t* store,
                                      const kiln_module_t* module, kiln_instance_t* out);

/** The store running the host function (for calls back into wasm); NULL when the call did not
 *  come through the C API. */
kiln_store_t* kiln_caller_store(kiln_caller_t* caller);
/** Bytes in the calling instance's memory (0 when it has none). */
uint64_t kiln_caller_memory_size(const kiln_caller_t* caller);
/** Copies `len` bytes at `offset` of the caller's memory into `out`; false (nothing read) when
 *  out of bounds. */
bool kiln_caller_memory_read(const kiln_caller_t* caller, uint64_t offset, void* out, size_t len);
/** Copies `len` bytes from `data` to the caller's memory at `offset`; false (nothing written)
 *  when out of bounds. */
bool kiln_caller_memory_write(kiln_caller_t* caller, uint64_t offset, const void* data, size_t len);
/** The calling instance's exported function `name` into `*out`; false when there is none. */
bool kiln_caller_get_func(kiln_caller_t* caller, const char* name, kiln_func_t* out);

/* ---- instances and their exports -------------------------------------------------------- */

/** Exported function `name` into `*out`; false when missing, not a function or another store's. */
bool kiln_instance_get_func(kiln_store_t* store, const kiln_instance_t* instance, const char* name,
                            kiln_func_t* out);
/** Exported memory `name` into `*out`; false when missing, not a memory or another store's. */
bool kiln_instance_get_memory(kiln_store_t* store, const kiln_instance_t* instance,
                              const char* name, kiln_memory_t* out);
/** Exported global `name` into `*out`; false when missing, not a global or another store's. */
bool kiln_instance_get_global(kiln_store_t* store, const kiln_instance_t* instance,
                              const char* name, kiln_global_t* out);

/** Calls `func` with `nargs` arguments of its parameter kinds and room for exactly its result
 *  count; a trap is an error of kind KILN_ERROR_TRAP, a suspension KILN_ERROR_SUSPENDED. */
kiln_error_t* kiln_func_call(kiln_store_t* store, const kiln_func_t* func, const kiln_val_t* args,
                             size_t nargs, kiln_val_t* results, size_t nresults);
/** The function's type: `*nparams` and `*nresults` are capacities on entry and counts on return;
 *  up to the capacity, kinds are written to `params` and `results` (NULL when the capacity is
 *  0). False when `func` is not of this store. */
bool kiln_func_type(kiln_store_t* store, const kiln_func_t* func, kiln_valkind_t* params,
                    size_t* nparams, kiln_valkind_t* results, size_t* nresults);

/** The memory's size in bytes into `*bytes`. */
kiln_error_t* kiln_memory_size(kiln_store_t* store, const kiln_memory_t* memory, uint64_t* bytes);
/** Copies `len` bytes at `offset` into `out`; out of bounds is an error and reads nothing. */
kiln_error_t* kiln_memory_read(kiln_store_t* store, const kiln_memory_t* memory, uint64_t offset,
                               void* out, size_t len);
/** Copies `len` bytes from `data` to `offset`; out of bounds is an error and writes nothing. */
kiln_error_t* kiln_memory_write(kiln_store_t* store, const kiln_memory_t* memory, uint64_t offset,
                                const void* data, size_t len);
/** Grows by `pages` 64 KiB pages (KILN_ERROR_LIMIT past the maximum or the store's limit);
 *  `previous_pages` (may be NULL) receives the old size. */
kiln_error_t* kiln_memory_grow(kiln_store_t* store, const kiln_memory_t* memory, uint64_t pages,
                               uint64_t* previous_pages);

/** The global's value into `*out`. */
kiln_error_t* kiln_global_get(kiln_store_t* store, const kiln_global_t* global, kiln_val_t* out);
/** Sets a mutable global; the value's kind must be the global's. */
kiln_error_t* kiln_global_set(kiln_store_t* store, const kiln_global_t* global,
                              const kiln_val_t* value);

/* ---- plugins (Extism ABI; see docs/plugins.md) ----------------------------------------- */

/** A plugin instance: bytes in, bytes out. Used by one thread at a time. */
typedef struct kiln_plugin kiln_plugin_t;

/** Loads a plugin from a manifest file (.json or .toml) or a .wasm module; `wasi` links WASI
 *  (needed by plugins built with wasi-libc that import it). */
kiln_error_t* kiln_plugin_from_file(const kiln_engine_t* engine, const char* path, bool wasi,
                                    kiln_plugin_t** out);
/** Loads a plugin from the bytes of one module. */
kiln_error_t* kiln_plugin_new(const kiln_engine_t* engine, const uint8_t* wasm, size_t len,
                              bool wasi, kiln_plugin_t** out);
/** Frees a plugin; one taken from a pool goes back to it. */
void kiln_plugin_delete(kiln_plugin_t* plugin);
/** Calls `function` with `input`. On success `*output`/`*output_len` hold the output, owned by
 *  the plugin and valid until its next call or delete; a failed call (trap, error set by the
 *  plugin: KILN_ERROR_PLUGIN, non-zero return, limit) returns the error. */
kiln_error_t* kiln_plugin_call(kiln_plugin_t* plugin, const char* function, const uint8_t* input,
                               size_t input_len, const uint8_t** output, size_t* output_len);
/** True when the plugin exports `function`. */
bool kiln_plugin_function_exists(const kiln_plugin_t* plugin, const char* function);
/** Sets a config key between calls; a NULL value deletes it. */
void kiln_plugin_set_config(kiln_plugin_t* plugin, const char* key, const char* value);

/* ---- manifests, plugin options and compiled plugins ------------------------------------- */

/** A manifest: a plugin's modules, config, grants and limits (docs/plugins.md). */
typedef struct kiln_manifest kiln_manifest_t;
/** How plugins are built: WASI, host functions, log level and destination, name. */
typedef struct kiln_plugin_options kiln_plugin_options_t;
/** A plugin's modules compiled once, with its options; shareable across threads. */
typedef struct kiln_compiled_plugin kiln_compiled_plugin_t;
/** What a plugin's host function sees of the plugin calling it; valid during the callback. */
typedef struct kiln_current_plugin kiln_current_plugin_t;

/** Parses a JSON manifest of `len` bytes; errors name the field (`wasm[0].hash: ...`). Relative
 *  paths in it are taken from `base_dir` (NULL: the current directory). */
kiln_error_t* kiln_manifest_from_json(const char* text, size_t len, const char* base_dir,
                                      kiln_manifest_t** out);
/** The same structure written in TOML. */
kiln_error_t* kiln_manifest_from_toml(const char* text, size_t len, const char* base_dir,
                                      kiln_manifest_t** out);
/** Reads a .json or .toml manifest file, or a .wasm module (a manifest with just that module). */
kiln_error_t* kiln_manifest_from_file(const char* path, kiln_manifest_t** out);
/** Frees a manifest; plugins made from it do not need it. */
void kiln_manifest_delete(kiln_manifest_t* manifest);

/** The level of a plugin's log line; a plugin's level lets through its own and those above. */
typedef enum kiln_log_level {
    KILN_LOG_TRACE = 0,
    KILN_LOG_DEBUG = 1,
    KILN_LOG_INFO = 2,
    KILN_LOG_WARN = 3,
    KILN_LOG_ERROR = 4,
    KILN_LOG_OFF = 5, /**< as a plugin's level: nothing is logged */
} kiln_log_level_t;

/** Receives a plugin's log lines that pass its level, on the thread calling the plugin. The
 *  plugin's name and the line (without its newline) are valid during the callback. */
typedef void (*kiln_log_callback_t)(void* user_data, const char* plugin, kiln_log_level_t level,
                                    const char* line);

/** A plugin's host function: reads `nargs` typed arguments and writes `nresults` results (their
 *  kinds are preset). Returning an error (e.g. kiln_error_new) traps the plugin with its
 *  message; the runtime frees it. */
typedef kiln_error_t* (*kiln_plugin_func_callback_t)(void* user_data, kiln_current_plugin_t* plugin,
                                                     const kiln_val_t* args, size_t nargs,
                                                     kiln_val_t* results, size_t nresults);

/** New options: no WASI, no host functions, log level info, logs to stderr. */
kiln_plugin_options_t* kiln_plugin_options_new(void);
/** Frees options; plugins compiled with them keep what they need. */
void kiln_plugin_options_delete(kiln_plugin_options_t* options);
/** Links WASI preview 1 (no env, no args), for plugins built with wasi-libc. */
void kiln_plugin_options_set_wasi(kiln_plugin_options_t* options, bool wasi);
/** The plugin's name in logs (default: the manifest's, else its main module's name or stem). */
void kiln_plugin_options_set_name(kiln_plugin_options_t* options, const char* name);
/** Lets http_headers() in the plugin return the response headers. */
void kiln_plugin_options_set_http_response_headers(kiln_plugin_options_t* options, bool allow);
/** The plugins' log level (KILN_LOG_OFF for none); a value that is no level is a usage error. */
kiln_error_t* kiln_plugin_options_set_log_level(kiln_plugin_options_t* options,
                                                kiln_log_level_t level);
/** Sends the plugins' log lines to `callback` instead of stderr (NULL: back to stderr). The
 *  options then own `user_data`: `free_user_data` (may be NULL) is called on it exactly once,
 *  when neither the options nor any plugin made with them uses it any more. On error it stays
 *  the caller's. */
kiln_error_t* kiln_plugin_options_set_log_callback(kiln_plugin_options_t* options,
                                                   kiln_log_callback_t callback, void* user_data,
                                                   void (*free_user_data)(void* user_data));
/** Offers plugins the host function `ns`.`name` (`ns` NULL: "extism:host/user") of this type,
 *  replacing an earlier one of that name. The options own `user_data` as with
 *  kiln_plugin_options_set_log_callback. */
kiln_error_t* kiln_plugin_options_add_function(
    kiln_plugin_options_t* options, const char* ns, const char* name, const kiln_valkind_t* params,
    size_t nparams, const kiln_valkind_t* results, size_t nresults,
    kiln_plugin_func_callback_t callback, void* user_data, void (*free_user_data)(void* user_data));

/** Fetches, checks and compiles the manifest's modules with `options` (NULL: the defaults). */
kiln_error_t* kiln_compiled_plugin_new(const kiln_engine_t* engine, const kiln_manifest_t* manifest,
                                       const kiln_plugin_options_t* options,
                                       kiln_compiled_plugin_t** out);
/** Frees a compiled plugin; its instances and pools keep what they need. */
void kiln_compiled_plugin_delete(kiln_compiled_plugin_t* compiled);
/** A new instance of a compiled plugin. */
kiln_error_t* kiln_plugin_instantiate(const kiln_compiled_plugin_t* compiled, kiln_plugin_t** out);
/** Compiles and instantiates in one step (kiln_compiled_plugin_new, kiln_plugin_instantiate). */
kiln_error_t* kiln_plugin_from_manifest(const kiln_engine_t* engine,
                                        const kiln_manifest_t* manifest,
                                        const kiln_plugin_options_t* options, kiln_plugin_t** out);

/* ---- inside a plugin's host function ---------------------------------------------------- */

/** The calling plugin's wasm caller, for its linear memory (kiln_caller_store gives NULL). */
kiln_caller_t* kiln_current_plugin_caller(kiln_current_plugin_t* plugin);
/** Allocates a block of `size` bytes in the plugin's kernel memory; its handle, 0 when out of
 *  memory. */
uint64_t kiln_current_plugin_alloc(kiln_current_plugin_t* plugin, uint64_t size);
/** Allocates a block holding `len` bytes of `data`; its handle, 0 when out of memory. */
uint64_t kiln_current_plugin_write(kiln_current_plugin_t* plugin, const void* data, size_t len);
/** The bytes of the block at `handle` into `*data` and `*len`, valid until the callback
 *  returns; false when `handle` is no live block. */
bool kiln_current_plugin_read(kiln_current_plugin_t* plugin, uint64_t handle, const uint8_t** data,
                              size_t* len);
/** The length of the block at `handle`, 0 for anything else. */
uint64_t kiln_current_plugin_length(const kiln_current_plugin_t* plugin, uint64_t handle);
/** Frees the block at `handle`. */
void kiln_current_plugin_free(kiln_current_plugin_t* plugin, uint64_t handle);
/** The config value of `key`, valid until the callback returns; NULL when unset. */
const char* kiln_current_plugin_config(kiln_current_plugin_t* plugin, const char* key);
/** The var `key` into `*data` and `*len`, valid until the callback returns; false when unset. */
bool kiln_current_plugin_var(kiln_current_plugin_t* plugin, const char* key, const uint8_t** data,
                             size_t* len);
/** Sets the var `key` to `len` bytes of `data` (NULL data deletes it); false when the vars would
 *  exceed the manifest's max_var_bytes. */
bool kiln_current_plugin_set_var(kiln_current_plugin_t* plugin, const char* key, const void* data,
                                 size_t len);
/** Makes the plugin's call fail with `message` once the host function returns. */
void kiln_current_plugin_set_error(kiln_current_plugin_t* plugin, const char* message);
/** Suspends the plugin's call once the host function returns (its results are then ignored):
 *  the call ends with KILN_ERROR_SUSPENDED and kiln_plugin_resume continues it. A usage error
 *  where the call cannot stop (a wasm call nested in another host call), which the host
 *  function may return to trap. */
kiln_error_t* kiln_current_plugin_suspend(kiln_current_plugin_t* plugin);

/* ---- plugin instances: control, suspension, snapshots, pools ---------------------------- */

/** Stops whatever call its plugin is running, from any thread. */
typedef struct kiln_cancel_handle kiln_cancel_handle_t;
/** Instances of one compiled plugin, created up to a maximum and reused; any thread may get
 *  instances from it. */
typedef struct kiln_plugin_pool kiln_plugin_pool_t;

/** The name logs give the plugin; owned by the plugin. */
const char* kiln_plugin_name(const kiln_plugin_t* plugin);
/** The return code of the last call (0 on success). */
int32_t kiln_plugin_last_rc(const kiln_plugin_t* plugin);
/** A fresh instance: memory, globals and vars cleared, config kept. */
kiln_error_t* kiln_plugin_reset(kiln_plugin_t* plugin);
/** Sets the plugin's log level between calls. */
kiln_error_t* kiln_plugin_set_log_level(kiln_plugin_t* plugin, kiln_log_level_t level);

/** A handle that cancels the plugin's running call (it fails as cancelled), for the plugin's
 *  whole life, across the fresh instances made after a trap or by kiln_plugin_reset. NULL when
 *  `plugin` is NULL. */
kiln_cancel_handle_t* kiln_plugin_cancel_handle(const kiln_plugin_t* plugin);
/** Cancels the running call; a cancel while the plugin is idle is not kept for the next. */
void kiln_cancel_handle_cancel(const kiln_cancel_handle_t* handle);
/** Frees a handle; the plugin is not affected. */
void kiln_cancel_handle_delete(kiln_cancel_handle_t* handle);

/** True while a call is suspended (by kiln_current_plugin_suspend); the plugin refuses other
 *  calls until it is resumed or dropped. */
bool kiln_plugin_is_suspended(const kiln_plugin_t* plugin);
/** Continues the suspended call as if the host function that suspended it returned `results`
 *  (checked against its type); the outcome and output are as for kiln_plugin_call, and the call
 *  may suspend again. Wrong results leave it suspended. */
kiln_error_t* kiln_plugin_resume(kiln_plugin_t* plugin, const kiln_val_t* results, size_t nresults,
                                 const uint8_t** output, size_t* output_len);
/** Abandons the suspended call; the next call gets a fresh instance. */
void kiln_plugin_drop_suspended(kiln_plugin_t* plugin);

/** Everything the instance holds (memories, globals, tables, WASI descriptors, vars, config,
 *  kernel memory and a suspended call) as snapshot bytes into `*data` and `*len`, freed with
 *  kiln_bytes_delete. Refused from inside the plugin's own call. */
kiln_error_t* kiln_plugin_snapshot(const kiln_plugin_t* plugin, uint8_t** data, size_t* len);
/** Frees bytes the API handed out; NULL is ignored. */
void kiln_bytes_delete(uint8_t* data);
/** A new instance of `compiled` with the state of a snapshot of an instance of the same plugin
 *  (modules checked by hash), here or in another process; a suspended call comes back
 *  suspended. Truncated, corrupt or mismatched snapshots are refused with an error naming what
 *  did not match. */
kiln_error_t* kiln_plugin_restore(const kiln_compiled_plugin_t* compiled, const uint8_t* data,
                                  size_t len, kiln_plugin_t** out);

/** A pool creating up to `max` instances of `compiled`; NULL when `compiled` is NULL. */
kiln_plugin_pool_t* kiln_plugin_pool_new(const kiln_compiled_plugin_t* compiled, size_t max);
/** Frees the pool; instances taken from it stay usable and are freed by kiln_plugin_delete. */
void kiln_plugin_pool_delete(kiln_plugin_pool_t* pool);
/** An instance from the pool into `*out`, waiting up to `timeout_ms` for one to be free
 *  (KILN_ERROR_LIMIT when none came). kiln_plugin_delete gives it back to the pool. */
kiln_error_t* kiln_plugin_pool_get(kiln_plugin_pool_t* pool, uint64_t timeout_ms,
                                   kiln_plugin_t** out);

/* ---- the plugin manager (folders of plugins; see docs/manager.md) ----------------------- */

/** A set of plugins found in folders, loaded in dependency order, called by name. Every
 *  function may be called from any thread (the manager locks what it must). */
typedef struct kiln_manager kiln_manager_t;

/** How a manager is set up: zero it (or use {0}), then set what you need. */
typedef struct kiln_manager_config {
    /** Load every plugin when its folder is opened, instead of on its first call. */
    bool eager;
    /** Kiln's state database, where disabled plugins, grants and the audit log are kept: a
     *  file path, "" for $KILN_HOME/state.db, NULL to keep them in memory only. */
    const char* state_path;
    /** Log destination and level, host functions, ... for every plugin (NULL: defaults). */
    const kiln_plugin_options_t* plugin_options;
    /** How long one lifecycle export (initialize, shutdown, plugin_init, plugin_cleanup) may
     *  run, in milliseconds: 0 for the default (10000), negative for no limit. */
    int64_t lifecycle_timeout_ms;
} kiln_manager_config_t;

/** What happened to a plugin, as kiln_manager_on_event reports it. */
typedef enum kiln_manager_event_kind {
    KILN_MANAGER_LOADED = 0,
    KILN_MANAGER_UNLOADED = 1,
    KILN_MANAGER_FAILED = 2, /**< the detail says why */
    KILN_MANAGER_RELOADED = 3,
} kiln_manager_event_kind_t;

/** Receives manager events on the thread that caused them, outside the manager's locks (it may
 *  call the manager). `plugin` and `detail` (empty but for failures) are valid during the call. */
typedef void (*kiln_manager_event_callback_t)(void* user_data, kiln_manager_event_kind_t kind,
                                              const char* plugin, const char* detail);

/** A new manager (`config` NULL: defaults). An unreadable state database, or one written by a
 *  newer Kiln, is an error naming its file. */
kiln_error_t* kiln_manager_new(const kiln_engine_t* engine, const kiln_manager_config_t* config,
                               kiln_manager_t** out);
/** Unloads every plugin in reverse dependency order and frees the manager. */
void kiln_manager_delete(kiln_manager_t* manager);
/** Adds the plugins of `folder` (sub-folders with a manifest, .wasm files, Extism manifests);
 *  runs no plugin code unless the manager is eager. A bad plugin is listed as failed; only an
 *  unreadable folder is an error. */
kiln_error_t* kiln_manager_open(kiln_manager_t* manager, const char* folder);
/** Adds one plugin (a folder, a .wasm or a manifest); its name into `*name` when `name` is not
 *  NULL, freed with kiln_string_delete. */
kiln_error_t* kiln_manager_add(kiln_manager_t* manager, const char* path, char** name);
/** Every plugin as a JSON array (the shape of `kiln plugin list --json`: name, version, abi,
 *  state, error, path, contributes), freed with kiln_string_delete. */
kiln_error_t* kiln_manager_list_json(const kiln_manager_t* manager, char** json);
/** One plugin, by name or path, as a JSON object (the shape of `kiln plugin info --json`);
 *  a usage error when there is none. Freed with kiln_string_delete. */
kiln_error_t* kiln_manager_info_json(const kiln_manager_t* manager, const char* plugin,
                                     char** json);
/** Every check of a load without running plugin code (requires, config, module hashes,
 *  compiling, the adapter); the first problem is the error, and the plugin is then listed as
 *  failed with it. */
kiln_error_t* kiln_manager_validate(kiln_manager_t* manager, const char* plugin);
/** Loads a plugin and what it requires; a plugin that failed or is disabled is an error. */
kiln_error_t* kiln_manager_load(kiln_manager_t* manager, const char* plugin);
/** Loads every plugin that can be, in dependency order; the first error is returned (the
 *  others still load). */
kiln_error_t* kiln_manager_load_all(kiln_manager_t* manager);
/** Whether `target` (an export, or a ZenoEngine slot) of a plugin can be called, into `*out`;
 *  the plugin is loaded first if needed. */
kiln_error_t* kiln_manager_has(kiln_manager_t* manager, const char* plugin, const char* target,
                               bool* out);
/** Unloads a plugin, and first what requires it. */
kiln_error_t* kiln_manager_unload(kiln_manager_t* manager, const char* plugin);
/** Reads a plugin again and builds the new version beside the running one, which keeps serving
 *  if that fails; `keep_vars` hands the running instance's vars to the new one. */
kiln_error_t* kiln_manager_reload(kiln_manager_t* manager, const char* plugin, bool keep_vars);
/** Calls `target` (a slot, a command or an export) of a plugin, loading it first if needed.
 *  On success the output is in `*output` and `*output_len`, freed with kiln_bytes_delete. */
kiln_error_t* kiln_manager_call(kiln_manager_t* manager, const char* plugin, const char* target,
                                const uint8_t* input, size_t input_len, uint8_t** output,
                                size_t* output_len);
/** Watches the folders of the plugins found so far (inotify) and reloads a plugin when a file
 *  of its folder changes, handing its vars over when `keep_vars`; a failed reload leaves the
 *  old version serving and is a KILN_MANAGER_FAILED event. Until kiln_manager_stop_watching or
 *  kiln_manager_delete. */
kiln_error_t* kiln_manager_watch(kiln_manager_t* manager, bool keep_vars);
/** Stops watching; no reload starts after it returns. */
void kiln_manager_stop_watching(kiln_manager_t* manager);
/** Enables or disables every version of a plugin (kept in the state database). */
kiln_error_t* kiln_manager_set_enabled(kiln_manager_t* manager, const char* plugin, bool enabled);
/** Grants a plugin a permission written as `kiln plugin grant` takes it ("kv:write",
 *  "network:*.example.com", "fs:rw:data", ...). A loaded plugin's host functions check it from
 *  their next call; what the plugin was linked with (WASI folders) changes at its next load. */
kiln_error_t* kiln_manager_grant(kiln_manager_t* manager, const char* plugin,
                                 const char* permission);
/** Takes back a permission kiln_manager_grant gave. */
kiln_error_t* kiln_manager_revoke(kiln_manager_t* manager, const char* plugin,
                                  const char* permission);
/** The audit log of denied permission checks (of `plugin` only, unless NULL) as a JSON array
 *  (the shape of `kiln plugin audit --json`), freed with kiln_string_delete. */
kiln_error_t* kiln_manager_audit_json(const kiln_manager_t* manager, const char* plugin,
                                      char** json);
/** Adds a listener of loaded / unloaded / failed / reloaded events. The manager owns
 *  `user_data`: `free_user_data` (may be NULL) is called on it once, when the manager is
 *  deleted. On error it stays the caller's. */
kiln_error_t* kiln_manager_on_event(kiln_manager_t* manager, kiln_manager_event_callback_t callback,
                                    void* user_data, void (*free_user_data)(void* user_data));
/** kiln_manager_call with a scope: `*scope` (a JSON object's text, or NULL for none) is the
 *  caller's variables, which the plugin reads and writes through its scope host functions
 *  (ZenoEngine plugins also get it as `_zeno_scope`); on return, even when the call failed,
 *  `*scope` is the scope as the plugin left it, a new string freed with kiln_string_delete (the
 *  one passed in is the caller's). Needs the host functions installed (kiln_host_install). */
kiln_error_t* kiln_manager_call_scoped(kiln_manager_t* manager, const char* plugin,
                                       const char* target, const uint8_t* input, size_t input_len,
                                       char** scope, uint8_t** output, size_t* output_len);

/* ---- host functions (log, kv, scope, db, files, env, http, host operations; see
 * docs/hostfns.md) ------------------------------------------------------------------------- */

/** The host functions plugins reach (kiln:host/v1 for Extism-ABI plugins, env.host_* for
 *  ZenoEngine's), and the stores and registries behind them. Thread-safe. */
typedef struct kiln_host kiln_host_t;

/** How the host functions are set up: zero it (or use {0}), then set what you need. */
typedef struct kiln_host_config {
    /** The state database kv keeps its data in: a file path; NULL or "" for
     *  $KILN_HOME/state.db. Opened on kv's first use. */
    const char* state_path;
    /** What relative paths of the files family are taken from; NULL: each plugin's folder. */
    const char* files_root;
    /** Bytes of keys and values one plugin may keep in kv; 0: the default (16 MiB). */
    uint64_t kv_quota;
    /** Rows one db query may return; 0: the default (10000). */
    uint64_t db_max_rows;
    /** 0: each kv set is committed before it returns (nothing lost when the process is
     *  killed). N: sets are committed in batches at most N ms old, a set costing a fraction of
     *  a commit; a killed process loses the last N ms of sets, a clean exit nothing. */
    uint64_t kv_commit_delay_ms;
} kiln_host_config_t;

/** A host operation's handler. `plugin` is the caller, `payload` its JSON (`payload_len`
 *  bytes, NUL-terminated), `library` a Spacedrive library id or "" for none. Returns 0 with a
 *  JSON result in `*result`, or non-zero with a message in `*result` (or NULL); `*result` is
 *  malloc'd by the handler and freed by Kiln. Called on the plugin's thread. */
typedef int (*kiln_host_operation_t)(void* user_data, const char* plugin, const char* payload,
                                     size_t payload_len, const char* library, char** result);

/** New host functions (`config` NULL: defaults). */
kiln_error_t* kiln_host_new(const kiln_host_config_t* config, kiln_host_t** out);
/** Frees the handle; plugins loaded with its functions keep what they use. */
void kiln_host_delete(kiln_host_t* host);
/** Offers the host functions to `manager`'s plugins (the Extism adapter with kiln:host/v1, the
 *  ZenoEngine adapter) and records their denials in its audit log (kiln_manager_audit_json).
 *  Plugins compiled before keep what they were compiled with. */
kiln_error_t* kiln_host_install(kiln_host_t* host, kiln_manager_t* manager);
/** Names an SQLite database for the db family: plugins granted `database: [NAME]` read it,
 *  those granted "rw:NAME" write it too when `writable`. */
kiln_error_t* kiln_host_add_database(kiln_host_t* host, const char* name, const char* path,
                                     bool writable);
/** Registers (or replaces) the host operation `name` (`query:files.list`); plugins granted a
 *  prefix of it call it. Kiln owns `user_data`: `free_user_data` (may be NULL) is called on it
 *  once the operation is replaced or removed and no call is using it, or with the host. */
kiln_error_t* kiln_host_add_operation(kiln_host_t* host, const char* name,
                                      kiln_host_operation_t handler, void* user_data,
                                      void (*free_user_data)(void* user_data));
/** Removes a host operation; false when there was none of that name. */
bool kiln_host_remove_operation(kiln_host_t* host, const char* name);
/** The audit log the host's denials go to (the installed manager's, else its own), of
 *  `plugin` only unless NULL, as a JSON array (the shape of `kiln plugin audit --json`), freed
 *  with kiln_string_delete. */
kiln_error_t* kiln_host_audit_json(const kiln_host_t* host, const char* plugin, char** json);

/** Frees a string the API handed out; NULL is ignored. */
void kiln_string_delete(char* text);

/* ---- jobs (resumable plugin work with progress and checkpoints; see docs/jobs.md) ---------- */

/** Runs jobs of a manager's plugins on worker threads, keeping them in Kiln's state database.
 *  Every function may be called from any thread. */
typedef struct kiln_jobs kiln_jobs_t;

/** Where a job is in its life. */
typedef enum kiln_job_status {
    KILN_JOB_QUEUED = 0,
    KILN_JOB_RUNNING = 1,
    KILN_JOB_PAUSED = 2,
    KILN_JOB_COMPLETED = 3,
    KILN_JOB_FAILED = 4,
    KILN_JOB_CANCELLED = 5,
} kiln_job_status_t;

/** A job's id as text: 36 characters and a NUL. */
#define KILN_JOB_ID_SIZE 37

/** How jobs run: zero it (or use {0}), then set what you need. */
typedef struct kiln_jobs_config {
    /** The job database: a file path; NULL or "" for $KILN_HOME/state.db. */
    const char* db_path;
    /** Jobs run at once by the workers (0: 4). */
    uint32_t concurrency;
} kiln_jobs_config_t;

/** A job runner over `manager`'s plugins (`config` NULL: defaults). It adds the job host
 *  functions and the Spacedrive ABI to the manager: make it before the manager loads plugins.
 *  The manager must outlive it. Workers start with kiln_jobs_start. */
kiln_error_t* kiln_jobs_new(kiln_manager_t* manager, const kiln_jobs_config_t* config,
                            kiln_jobs_t** out);
/** Stops the workers (running jobs go back to the queue, with a snapshot if they take them)
 *  and frees the runner; NULL is ignored. */
void kiln_jobs_delete(kiln_jobs_t* jobs);
/** Starts the workers: they run queued jobs of this and other processes. */
kiln_error_t* kiln_jobs_start(kiln_jobs_t* jobs);
/** Queues a job of `plugin`: `job` names a job it declares or registers, or is NULL and
 *  `export_name` names an export; `state` is the initial state (JSON), NULL for the job's
 *  default. Its id into `id`. */
kiln_error_t* kiln_jobs_dispatch(kiln_jobs_t* jobs, const char* plugin, const char* job,
                                 const char* export_name, const char* state,
                                 char id[KILN_JOB_ID_SIZE]);
/** How one job runs, over what its plugin declares: zero it (or use {0}), then set what you
 *  need; kiln_jobs_dispatch_with takes all of it. */
typedef struct kiln_job_options {
    uint32_t max_attempts;      /**< runs a failed job gets in all (0 or 1: no retry) */
    uint64_t retry_backoff_ms;  /**< the wait before the first retry, doubled for each next */
    bool snapshots;             /**< a pause or stop suspends the call and stores the instance */
    uint64_t snapshot_every_ms; /**< also snapshot this often while it runs (implies snapshots) */
    uint64_t timeout_ms;        /**< wall-clock bound of each run (0: none) */
    const char* library_id;     /**< the Spacedrive library (a UUID; NULL: the nil UUID) */
} kiln_job_options_t;

/** kiln_jobs_dispatch with options (NULL: the job's declared ones). */
kiln_error_t* kiln_jobs_dispatch_with(kiln_jobs_t* jobs, const char* plugin, const char* job,
                                      const char* export_name, const char* state,
                                      const kiln_job_options_t* options, char id[KILN_JOB_ID_SIZE]);
/** Runs a queued job on the calling thread to its end, pause or cancellation; how it ended
 *  into `status` (may be NULL). */
kiln_error_t* kiln_jobs_run(kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status);
/** Waits until the job is over or paused, or `timeout_ms` passes; its status then. */
kiln_error_t* kiln_jobs_wait(kiln_jobs_t* jobs, const char* id, uint64_t timeout_ms,
                             kiln_job_status_t* status);
/** A job's status and progress (0 to 1); either pointer may be NULL. */
kiln_error_t* kiln_jobs_status(const kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status,
                               double* fraction);
/** Everything about a job as a JSON object (the shape of `kiln job status --json`), freed with
 *  kiln_string_delete. */
kiln_error_t* kiln_jobs_info_json(const kiln_jobs_t* jobs, const char* id, char** json);
/** Every job (or those with `status`, unless it is negative) as a JSON array of the objects
 *  kiln_jobs_info_json gives (the shape of `kiln job list --json`), freed with
 *  kiln_string_delete. */
kiln_error_t* kiln_jobs_list_json(const kiln_jobs_t* jobs, int status, char** json);
/** A job's log (what the plugin logged and what Kiln says about the job) as a JSON array of
 *  {"time_ms", "level", "warning", "message"}, freed with kiln_string_delete. */
kiln_error_t* kiln_jobs_logs_json(const kiln_jobs_t* jobs, const char* id, char** json);
/** Pauses a job (a running one at its next interrupt check or snapshot point); the status it
 *  has now into `status` (may be NULL). */
kiln_error_t* kiln_jobs_pause(kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status);
/** Queues a paused job again. */
kiln_error_t* kiln_jobs_resume(kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status);
/** Cancels a job (a running one at its next interrupt check, snapshot point or after a grace). */
kiln_error_t* kiln_jobs_cancel(kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status);
/** "queued", "running", "paused", "completed", "failed", "cancelled". */
const char* kiln_job_status_name(kiln_job_status_t status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_KILN_H */
