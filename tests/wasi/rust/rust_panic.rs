// A Rust panic on wasm32-wasi prints its message to stderr and aborts, which is a trap: `kiln run`
// must report it and exit 134. Stdout written before the panic must already be out.
fn main() {
    println!("before the panic");
    let v: Vec<u32> = std::env::args().map(|a| a.len() as u32).collect();
    // Index out of bounds, computed at run time so the compiler cannot see it coming.
    println!("{}", v[v.len() + 2]);
}
