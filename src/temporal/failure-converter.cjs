// Loaded by path (the Temporal SDK requires it in the client and bundles it into the workflow sandbox), hence plain
// CommonJS. encodeCommonAttributes moves failure messages and stack traces into an encoded payload, so the payload
// codec encrypts them too: an error text can then never leak a secret into history in plaintext.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
