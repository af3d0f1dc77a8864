// sum_squares_rust (Rust, wasm32-unknown-unknown): the same resumable job as sum_squares.c,
// with Kiln's Rust kit: the state {"n": N, "i": I, "sum": S}, progress and a checkpoint every
// 1,000 numbers, pause and cancel honoured, the final state as the output.
//   kiln job run sum_squares_rust:sum --state '{"n":1000000}' --plugin-dir build/examples/plugins/jobs

#[allow(dead_code)]
#[macro_use]
#[path = "../../../pdk/rust/kiln_pdk.rs"]
mod kiln_pdk;

use kiln_pdk::{job_check_interrupt, job_checkpoint, job_items, job_progress, Error, JobInterrupt};

/// The number after "key": in the state, or 0.
fn field(state: &str, key: &str) -> u64 {
    let pattern = format!("\"{}\":", key);
    match state.find(&pattern) {
        Some(at) => {
            let digits: String =
                state[at + pattern.len()..].chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().unwrap_or(0)
        }
        None => 0,
    }
}

fn state(n: u64, i: u64, sum: u64) -> String {
    format!("{{\"n\":{},\"i\":{},\"sum\":{}}}", n, i, sum)
}

kiln_export! {
    fn sum(input: String) -> Result<String, Error> {
        let (n, mut i, mut sum) = (field(&input, "n"), field(&input, "i"), field(&input, "sum"));
        while i < n {
            match job_check_interrupt() {
                JobInterrupt::Cancel => return Ok(String::new()),
                JobInterrupt::Pause => {
                    job_checkpoint(&state(n, i, sum))?;
                    return Ok(String::new());
                }
                JobInterrupt::Continue => {}
            }
            let end = (i + 1000).min(n);
            while i < end {
                i += 1;
                sum = (sum + i * i) % 1_000_000_007;
            }
            job_progress(i as f64 / n as f64, &format!("{} of {}", i, n));
            job_items(i, n);
            job_checkpoint(&state(n, i, sum))?;
        }
        Ok(state(n, i, sum))
    }
}
