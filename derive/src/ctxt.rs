//! The error collector: every user mistake found while reading the input is recorded here, so
//! one compilation reports all of them at once instead of one per edit.

use std::cell::{Cell, RefCell};
use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Collects the errors found while reading, checking and expanding one derive input.
///
/// Errors are reported through [`Ctxt::check`] or [`Ctxt::finish`], which consume the context.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
    /// While above zero, errors are dropped: see [`Ctxt::muted`].
    muted: Cell<usize>,
}

impl Ctxt {
    /// An empty context.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records an error spanned at `tokens`.
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records an error spanned at `tokens` whose message says what is wrong, followed by a
    /// `help:` line saying how to write it right.
    pub(crate) fn error_with_help<T: ToTokens, M: Display, H: Display>(
        &self,
        tokens: T,
        message: M,
        help: H,
    ) {
        self.error_spanned_by(tokens, with_help(message, help));
    }

    /// Records an error that `syn` produced (it carries its own span).
    pub(crate) fn syn_error(&self, error: syn::Error) {
        if self.muted.get() == 0 {
            self.errors.borrow_mut().push(error);
        }
    }

    /// Runs `read` and, when `mute` is set, drops the errors it records.
    ///
    /// Used to read a misspelt key as the key it was meant to be: the misspelling is reported
    /// once, and what follows from it (a value the right key would reject, a second `id`) waits
    /// until it is fixed, instead of adding errors for one mistake.
    pub(crate) fn muted<R>(&self, mute: bool, read: impl FnOnce() -> R) -> R {
        if !mute {
            return read();
        }
        self.muted.set(self.muted.get() + 1);
        let result = read();
        self.muted.set(self.muted.get() - 1);
        result
    }

    /// Whether an error was recorded: the expansion is then the fallback.
    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.borrow().is_empty()
    }

    /// All recorded errors combined into one, or `Ok` when there were none.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.into_inner().into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }

    /// `expansion`, preceded by every recorded error.
    ///
    /// With errors, `expansion` is the fallback: what could be generated from the parts of the
    /// input that were read, so that the code using the generated items still compiles and the
    /// compiler shows only the mistakes (as thiserror's `impl/src/fallback.rs` does).
    pub(crate) fn finish(self, expansion: TokenStream) -> TokenStream {
        match self.check() {
            Ok(()) => expansion,
            Err(errors) => {
                let mut tokens = errors.into_compile_error();
                tokens.extend(expansion);
                tokens
            }
        }
    }
}

/// `message`, then a `help:` line: the form every error of this crate takes.
pub(crate) fn with_help<M: Display, H: Display>(message: M, help: H) -> String {
    format!("{message}\nhelp: {help}")
}
