//! The family validators (chaincode-like): one module per document family.
use crate::execute::Validator;

pub fn all() -> Vec<Box<dyn Validator>> {
    Vec::new()
}
