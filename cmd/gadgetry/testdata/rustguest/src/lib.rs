// A WASM guest written in Rust against the host ABI itself (no SDK): it reads the exec event's
// command and pid, and the wasm parameter ignore-comm, and sets the field "lineage" to
// "rust COMM pid PID [PARAM]". TestRustGuestRuns builds it with `gadgetry image build`
// (build.yaml: wasm: rust/src/lib.rs) and checks that field on an exec.

use std::sync::atomic::{AtomicU32, Ordering};

#[link(wasm_import_module = "ig")]
extern "C" {
    fn gadgetLog(level: u32, msg: u64);
    fn getDataSource(name: u64) -> u32;
    fn dataSourceGetField(ds: u32, name: u64) -> u32;
    fn dataSourceAddField(ds: u32, name: u64, kind: u32) -> u32;
    fn dataSourceSubscribe(ds: u32, typ: u32, prio: u32, cb: u64) -> u32;
    fn fieldGetBuffer(field: u32, data: u32, kind: u32, dst: u64) -> i32;
    fn fieldGetScalar(field: u32, data: u32, kind: u32, err: u32) -> u64;
    fn fieldSet(field: u32, data: u32, kind: u32, value: u64) -> u32;
    fn getParamValue(key: u64, dst: u64) -> u32;
}

const KIND_UINT32: u32 = 8;
const KIND_STRING: u32 = 12;
const SUBSCRIBE_DATA: u32 = 1;

static COMM: AtomicU32 = AtomicU32::new(0);
static PID: AtomicU32 = AtomicU32::new(0);
static LINEAGE: AtomicU32 = AtomicU32::new(0);
static mut PARAM: [u8; 64] = [0; 64];
static mut PARAM_LEN: usize = 0;

/// packs a guest buffer as the host reads it: length in the high 32 bits, address in the low.
fn pack(b: &[u8]) -> u64 {
    ((b.len() as u64) << 32) | (b.as_ptr() as u32 as u64)
}

fn log(msg: &str) {
    unsafe { gadgetLog(2, pack(msg.as_bytes())) }
}

#[no_mangle]
pub extern "C" fn gadgetAPIVersion() -> u64 {
    1
}

#[no_mangle]
pub extern "C" fn gadgetInit() -> i32 {
    unsafe {
        let ds = getDataSource(pack(b"exec"));
        if ds == 0 {
            log("rust guest: no data source exec");
            return 1;
        }
        COMM.store(dataSourceGetField(ds, pack(b"proc.comm")), Ordering::Relaxed);
        PID.store(dataSourceGetField(ds, pack(b"proc.pid")), Ordering::Relaxed);
        LINEAGE.store(dataSourceAddField(ds, pack(b"lineage"), KIND_STRING), Ordering::Relaxed);
        if COMM.load(Ordering::Relaxed) == 0 || PID.load(Ordering::Relaxed) == 0 || LINEAGE.load(Ordering::Relaxed) == 0 {
            log("rust guest: missing fields");
            return 1;
        }
        let param = &mut *std::ptr::addr_of_mut!(PARAM);
        if getParamValue(pack(b"ignore-comm"), pack(&param[..])) != 0 {
            log("rust guest: no parameter ignore-comm");
            return 1;
        }
        PARAM_LEN = param.iter().position(|&c| c == 0).unwrap_or(param.len());
        if dataSourceSubscribe(ds, SUBSCRIBE_DATA, 0, 7) != 0 {
            return 1;
        }
    }
    log("rust guest subscribed to exec");
    0
}

#[no_mangle]
pub extern "C" fn dataSourceCallback(_cb: u64, _ds: u32, data: u32) {
    let mut comm = [0u8; 64];
    let mut err: u32 = 0;
    unsafe {
        let n = fieldGetBuffer(COMM.load(Ordering::Relaxed), data, KIND_STRING, pack(&comm[..]));
        if n < 0 {
            log("rust guest: reading proc.comm failed");
            return;
        }
        // A host may give a char[N] field's whole array: the text ends at the first NUL.
        let n = comm[..n as usize].iter().position(|&c| c == 0).unwrap_or(n as usize);
        let pid = fieldGetScalar(PID.load(Ordering::Relaxed), data, KIND_UINT32, &mut err as *mut u32 as u32);
        if err != 0 {
            log("rust guest: reading proc.pid failed");
            return;
        }
        let param = &*std::ptr::addr_of!(PARAM);
        let note = format!(
            "rust {} pid {} [{}]",
            String::from_utf8_lossy(&comm[..n]),
            pid,
            String::from_utf8_lossy(&param[..PARAM_LEN])
        );
        fieldSet(LINEAGE.load(Ordering::Relaxed), data, KIND_STRING, pack(note.as_bytes()));
    }
}
