// Files and directories through Rust's std::fs on wasm32-wasi, which calls WASI directly rather
// than through wasi-libc's POSIX layer. Errors print as the WASI errno name, since io::ErrorKind
// names differ between Rust versions. Runs with /sandbox preopened read-write and empty.
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

fn errno_name(e: &io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(2) => "EACCES",
        Some(8) => "EBADF",
        Some(20) => "EEXIST",
        Some(28) => "EINVAL",
        Some(31) => "EISDIR",
        Some(32) => "ELOOP",
        Some(44) => "ENOENT",
        Some(54) => "ENOTDIR",
        Some(55) => "ENOTEMPTY",
        Some(63) => "EPERM",
        Some(76) => "ENOTCAPABLE",
        Some(n) => return format!("errno {}", n),
        None => return format!("{:?}", e.kind()),
    };
    name.to_string()
}

fn show<T>(what: &str, r: io::Result<T>) -> Option<T> {
    match r {
        Ok(v) => {
            println!("{}: ok", what);
            Some(v)
        }
        Err(e) => {
            println!("{}: {}", what, errno_name(&e));
            None
        }
    }
}

fn must_fail<T>(what: &str, r: io::Result<T>) {
    match r {
        Ok(_) => println!("{}: unexpectedly succeeded", what),
        Err(e) => println!("{}: {}", what, errno_name(&e)),
    }
}

fn list(path: &str) {
    match fs::read_dir(path) {
        Err(e) => println!("read_dir {}: {}", path, errno_name(&e)),
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|entry| {
                    let entry = entry.unwrap();
                    let mut name = entry.file_name().to_string_lossy().into_owned();
                    if entry.file_type().unwrap().is_dir() {
                        name.push('/');
                    }
                    name
                })
                .collect();
            names.sort();
            println!("read_dir {}: [{}]", path, names.join(" "));
        }
    }
}

fn main() -> io::Result<()> {
    println!("-- write, read, append");
    show("fs::write", fs::write("/sandbox/a.txt", "hello from rust\n"));
    println!("read_to_string: {:?}", fs::read_to_string("/sandbox/a.txt")?);
    let mut f = OpenOptions::new().append(true).open("/sandbox/a.txt")?;
    f.write_all(b"appended\n")?;
    drop(f);
    println!("after append: {:?}", fs::read_to_string("/sandbox/a.txt")?);
    let create_new = OpenOptions::new().write(true).create_new(true).open("/sandbox/a.txt");
    must_fail("create_new existing", create_new);
    must_fail("open missing", File::open("/sandbox/missing.txt"));
    must_fail("open escaping the preopen", File::open("/sandbox/../outside.txt"));

    println!("-- seek, set_len, metadata");
    let mut f = OpenOptions::new().read(true).write(true).open("/sandbox/a.txt")?;
    println!("seek End(-9): {}", f.seek(SeekFrom::End(-9))?);
    let mut tail = String::new();
    f.read_to_string(&mut tail)?;
    println!("tail: {:?}", tail);
    println!("seek Start(6): {}", f.seek(SeekFrom::Start(6))?);
    f.write_all(b"FROM")?;
    println!("seek Current(0): {}", f.seek(SeekFrom::Current(0))?);
    must_fail("seek Current(-100)", f.seek(SeekFrom::Current(-100)));
    show("set_len 10", f.set_len(10));
    show("sync_all", f.sync_all());
    show("sync_data", f.sync_data());
    let m = f.metadata()?;
    println!("metadata: len {} file {} dir {}", m.len(), m.is_file(), m.is_dir());
    println!("modified() available: {}", m.modified().is_ok());
    drop(f);
    println!("contents: {:?}", fs::read_to_string("/sandbox/a.txt")?);
    let m = fs::metadata("/sandbox")?;
    println!("metadata /sandbox: dir {}", m.is_dir());

    println!("-- buffered lines");
    {
        let mut w = BufWriter::new(File::create("/sandbox/lines.txt")?);
        for i in 0..5 {
            writeln!(w, "line {}", i)?;
        }
    }
    let lines: Vec<String> = BufReader::new(File::open("/sandbox/lines.txt")?)
        .lines()
        .collect::<io::Result<_>>()?;
    println!("lines: {:?}", lines);
    println!("fs::copy: {} bytes", fs::copy("/sandbox/lines.txt", "/sandbox/copy.txt")?);

    println!("-- directories");
    show("create_dir d", fs::create_dir("/sandbox/d"));
    must_fail("create_dir d again", fs::create_dir("/sandbox/d"));
    show("create_dir_all d/x/y/z", fs::create_dir_all("/sandbox/d/x/y/z"));
    fs::write("/sandbox/d/x/file.txt", "x")?;
    fs::write("/sandbox/d/b.txt", "b")?;
    fs::write("/sandbox/d/a.txt", "a")?;
    list("/sandbox");
    list("/sandbox/d");
    list("/sandbox/d/x");
    must_fail("read_dir a file", fs::read_dir("/sandbox/a.txt"));
    must_fail("remove_dir non-empty", fs::remove_dir("/sandbox/d/x"));
    must_fail("remove_file a directory", fs::remove_file("/sandbox/d/x"));
    must_fail("remove_dir a file", fs::remove_dir("/sandbox/d/a.txt"));

    println!("-- rename, links");
    show("rename a.txt -> c.txt", fs::rename("/sandbox/d/a.txt", "/sandbox/d/c.txt"));
    show("rename c.txt over b.txt", fs::rename("/sandbox/d/c.txt", "/sandbox/d/b.txt"));
    println!("b.txt now: {:?}", fs::read_to_string("/sandbox/d/b.txt")?);
    show("rename dir x -> y", fs::rename("/sandbox/d/x", "/sandbox/d/y"));
    list("/sandbox/d");
    show("hard_link", fs::hard_link("/sandbox/d/b.txt", "/sandbox/d/hard.txt"));
    println!("hard.txt: {:?}", fs::read_to_string("/sandbox/d/hard.txt")?);
    must_fail("read_link a regular file", fs::read_link("/sandbox/d/b.txt"));
    let m = fs::symlink_metadata("/sandbox/d/hard.txt")?;
    println!("symlink_metadata hard.txt: symlink {} file {}", m.file_type().is_symlink(),
             m.is_file());

    println!("-- cleanup");
    show("remove_dir_all d", fs::remove_dir_all("/sandbox/d"));
    show("remove_file lines.txt", fs::remove_file("/sandbox/lines.txt"));
    show("remove_file copy.txt", fs::remove_file("/sandbox/copy.txt"));
    list("/sandbox");
    must_fail("metadata of removed", fs::metadata("/sandbox/d"));
    Ok(())
}
