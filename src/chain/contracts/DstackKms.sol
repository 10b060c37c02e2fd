// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {DstackApp} from "./DstackApp.sol";

// App registry and factory: the contract whose address Phala reports as `kms_contract_address`. Keeps the
// function and event signatures that @phala/cloud 0.2.9 calls (`deployAndRegisterApp` with 5 arguments,
// `AppDeployedViaFactory`, `AppRegistered`), and adds a salted variant for callers that must not deploy twice.
contract DstackKms {
    mapping(address => bool) public registeredApps;

    error InvalidAppId();
    error AppAlreadyDeployed(address appId);

    event AppRegistered(address appId);
    event AppDeployedViaFactory(address indexed appId, address indexed deployer);

    // Open to anyone, as in dstack: registering only marks an address as an app this KMS serves; what the app may
    // run is decided by the app contract's own owner.
    function registerApp(address appId) public {
        if (appId == address(0)) revert InvalidAppId();
        registeredApps[appId] = true;
        emit AppRegistered(appId);
    }

    // The SDK's entry point. Every call creates a new app, so a blind retry after a lost response creates a second
    // one. `disableUpgrades` is accepted for ABI compatibility only: these apps are not proxies, so they can never
    // be upgraded.
    function deployAndRegisterApp(
        address initialOwner,
        bool /* disableUpgrades */,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external returns (address appId) {
        DstackApp app = new DstackApp();
        _setUpAndRegister(app, initialOwner, allowAnyDevice, initialDeviceId, initialComposeHash);
        return address(app);
    }

    // Exactly-once variant. The app is created with CREATE2 from (msg.sender, salt) only — not from the other
    // arguments — so a caller that derives the salt from its own idempotency key (workflow id + step) can compute
    // the app id before sending (`appIdFor`), find it already registered after a lost response, and never create a
    // second app for one key, even if it retries with different arguments. Namespacing the salt by msg.sender
    // keeps anyone else from taking the address first: a front-runner with the same salt gets an address of its
    // own. A second send with the same salt reverts with AppAlreadyDeployed instead of deploying again.
    function deployAndRegisterAppWithSalt(
        address initialOwner,
        bool /* disableUpgrades */,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash,
        bytes32 salt
    ) external returns (address appId) {
        appId = appIdFor(msg.sender, salt);
        if (appId.code.length != 0) revert AppAlreadyDeployed(appId);
        DstackApp app = new DstackApp{salt: _senderSalt(msg.sender, salt)}();
        _setUpAndRegister(app, initialOwner, allowAnyDevice, initialDeviceId, initialComposeHash);
    }

    // The address `deployAndRegisterAppWithSalt` gives (or gave) the app of `deployer` and `salt`.
    function appIdFor(address deployer, bytes32 salt) public view returns (address) {
        bytes32 initCodeHash = keccak256(type(DstackApp).creationCode);
        bytes32 digest = keccak256(abi.encodePacked(bytes1(0xff), address(this), _senderSalt(deployer, salt), initCodeHash));
        return address(uint160(uint256(digest)));
    }

    function _senderSalt(address deployer, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(deployer, salt));
    }

    function _setUpAndRegister(
        DstackApp app,
        address initialOwner,
        bool allowAnyDevice,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) private {
        app.initialize(initialOwner, allowAnyDevice, initialDeviceId, initialComposeHash);
        registerApp(address(app));
        emit AppDeployedViaFactory(address(app), msg.sender);
    }
}
