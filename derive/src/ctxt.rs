//! The error collector: every user mistake found while reading the input is recorded here, so
//! one compilation reports all of them at once instead of one per edit.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// Collects the errors found while reading and checking one derive input.
///
/// Errors are reported through [`Ctxt::check`], which consumes the context.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    /// An empty context.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records an error spanned at `tokens`.
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.errors
            .borrow_mut()
            .push(syn::Error::new_spanned(tokens.into_token_stream(), message));
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
        self.errors.borrow_mut().push(error);
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
}

/// `message`, then a `help:` line: the form every error of this crate takes.
pub(crate) fn with_help<M: Display, H: Display>(message: M, help: H) -> String {
    format!("{message}\nhelp: {help}")
}
