// Arguments, environment, clocks, sleep, stdin and exit code through Rust's std on wasm32-wasi.
// The harness passes arguments, a few --env variables and stdin; the program ends with
// process::exit(5), so the exit code is checked as well.
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("args: {:?}", args);

    println!("KILN_GREETING: {:?}", std::env::var("KILN_GREETING"));
    println!("KILN_MISSING: {:?}", std::env::var("KILN_MISSING").is_err());
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    println!("vars ({}): {:?}", vars.len(), vars);

    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    println!("SystemTime after 2020-01-01: {}", since_epoch.as_secs() >= 1_577_836_800);
    let mut previous = Instant::now();
    let mut decreased = false;
    for _ in 0..1000 {
        let now = Instant::now();
        decreased |= now < previous;
        previous = now;
    }
    println!("Instant never decreases over 1000 reads: {}", !decreased);
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(30));
    println!("sleep(30ms) took at least 30ms: {}", start.elapsed() >= Duration::from_millis(30));

    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut lines: Vec<&str> = input.lines().collect();
    lines.reverse();
    println!("stdin lines reversed: {:?}", lines);
    eprintln!("stderr is separate from stdout");

    io::stdout().flush().unwrap();
    std::process::exit(5);
}
