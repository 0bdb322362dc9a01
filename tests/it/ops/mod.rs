//! Operating a set-up: `config show` (precedence and masking), `backup` while an import runs
//! and `restore`, and `doctor` on healthy and broken set-ups.

mod backup;
mod config;
mod doctor;
