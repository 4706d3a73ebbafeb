//! Fuzz target `bitswap_message`: the body is [`ferrite_fuzz::bitswap_message`].
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrite_fuzz::bitswap_message(data));

/// Without libFuzzer: replays the files (or folders of files) named on the
/// command line.
#[cfg(not(fuzzing))]
fn main() {
    ferrite_fuzz::replay_main(ferrite_fuzz::bitswap_message);
}
