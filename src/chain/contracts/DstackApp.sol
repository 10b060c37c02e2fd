// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ownable} from "./Ownable.sol";

// Per-app allow-list a KMS consults before releasing an app's keys: which compose hashes may run and on
// which devices. Its address is the app id. Same external surface as dstack's DstackApp, but a plain contract
// instead of a UUPS proxy, which is all a local chain needs.
contract DstackApp is Ownable {
    mapping(bytes32 => bool) public allowedComposeHashes;
    mapping(bytes32 => bool) public allowedDeviceIds;
    bool public allowAnyDevice;

    // The factory sets the app up in the transaction that creates it; nobody else may, and only once. The
    // configuration is not a constructor argument so that a CREATE2 address depends on the salt alone (see
    // DstackKms.deployAndRegisterAppWithSalt).
    address private immutable _deployer;
    bool private _initialized;

    error AlreadyInitialized();
    error NotDeployer(address account);

    event ComposeHashAdded(bytes32 composeHash);
    event ComposeHashRemoved(bytes32 composeHash);
    event DeviceAdded(bytes32 deviceId);
    event DeviceRemoved(bytes32 deviceId);
    event AllowAnyDeviceSet(bool allowAny);

    constructor() {
        _deployer = msg.sender;
    }

    function initialize(
        address initialOwner,
        bool allowAnyDevice_,
        bytes32 initialDeviceId,
        bytes32 initialComposeHash
    ) external {
        if (msg.sender != _deployer) revert NotDeployer(msg.sender);
        if (_initialized) revert AlreadyInitialized();
        _initialized = true;
        _setOwner(initialOwner);
        allowAnyDevice = allowAnyDevice_;
        // Zero means "none yet", as in dstack: the CLI registers the app before it knows the first device.
        if (initialDeviceId != bytes32(0)) {
            allowedDeviceIds[initialDeviceId] = true;
            emit DeviceAdded(initialDeviceId);
        }
        if (initialComposeHash != bytes32(0)) {
            allowedComposeHashes[initialComposeHash] = true;
            emit ComposeHashAdded(initialComposeHash);
        }
    }

    function addComposeHash(bytes32 composeHash) external onlyOwner {
        allowedComposeHashes[composeHash] = true;
        emit ComposeHashAdded(composeHash);
    }

    function removeComposeHash(bytes32 composeHash) external onlyOwner {
        allowedComposeHashes[composeHash] = false;
        emit ComposeHashRemoved(composeHash);
    }

    function addDevice(bytes32 deviceId) external onlyOwner {
        allowedDeviceIds[deviceId] = true;
        emit DeviceAdded(deviceId);
    }

    function removeDevice(bytes32 deviceId) external onlyOwner {
        allowedDeviceIds[deviceId] = false;
        emit DeviceRemoved(deviceId);
    }

    function setAllowAnyDevice(bool allowAny) external onlyOwner {
        allowAnyDevice = allowAny;
        emit AllowAnyDeviceSet(allowAny);
    }
}
