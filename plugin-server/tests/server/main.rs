//! plugin-server's tests: the real binary on 127.0.0.1, the real example plugins, real
//! SQLite files, real HTTP (and, in `browser`, real Chromium).

mod api;
mod browser;
mod folders;
mod git;
mod packages;
mod support;
