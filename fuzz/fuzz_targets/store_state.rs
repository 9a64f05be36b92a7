#![no_main]
//! Loading a store's JSON state: a loaded state writes back to a state that loads the same, and
//! time can move on from it.

use certslot::Store;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(store) = Store::from_json(text) else { return };
    let json = store.to_json().expect("a loaded state writes");
    let again = Store::from_json(&json).expect("a written state loads");
    assert_eq!(again.to_json().expect("writes"), json);
    let mut store = again;
    if let Some(due) = store.next_due() {
        let at = store.clock().map_or(due, |c| c.max(due));
        let _ = store.advance(at);
    }
});
