// Typed ABIs of our DstackKms / DstackApp, written as human-readable signatures so viem infers argument and result
// types. The compiled ABIs in contracts/artifacts.json are the truth; a unit test keeps these equal to them.
import { type Hex, parseAbi } from 'viem';
import artifacts from './contracts/artifacts.json' with { type: 'json' };

export const dstackKmsAbi = parseAbi([
  'function registerApp(address appId)',
  'function registeredApps(address) view returns (bool)',
  'function deployAndRegisterApp(address initialOwner, bool, bool allowAnyDevice, bytes32 initialDeviceId, bytes32 initialComposeHash) returns (address appId)',
  'function deployAndRegisterAppWithSalt(address initialOwner, bool, bool allowAnyDevice, bytes32 initialDeviceId, bytes32 initialComposeHash, bytes32 salt) returns (address appId)',
  'function appIdFor(address deployer, bytes32 salt) view returns (address)',
  'event AppRegistered(address appId)',
  'event AppDeployedViaFactory(address indexed appId, address indexed deployer)',
  'error InvalidAppId()',
  'error AppAlreadyDeployed(address appId)',
]);

export const dstackAppAbi = parseAbi([
  'constructor()',
  'function owner() view returns (address)',
  'function transferOwnership(address newOwner)',
  'function initialize(address initialOwner, bool allowAnyDevice_, bytes32 initialDeviceId, bytes32 initialComposeHash)',
  'function allowedComposeHashes(bytes32) view returns (bool)',
  'function allowedDeviceIds(bytes32) view returns (bool)',
  'function allowAnyDevice() view returns (bool)',
  'function addComposeHash(bytes32 composeHash)',
  'function removeComposeHash(bytes32 composeHash)',
  'function addDevice(bytes32 deviceId)',
  'function removeDevice(bytes32 deviceId)',
  'function setAllowAnyDevice(bool allowAny)',
  'event ComposeHashAdded(bytes32 composeHash)',
  'event ComposeHashRemoved(bytes32 composeHash)',
  'event DeviceAdded(bytes32 deviceId)',
  'event DeviceRemoved(bytes32 deviceId)',
  'event AllowAnyDeviceSet(bool allowAny)',
  'event OwnershipTransferred(address indexed previousOwner, address indexed newOwner)',
  'error OwnableUnauthorizedAccount(address account)',
  'error OwnableInvalidOwner(address owner)',
  'error AlreadyInitialized()',
  'error NotDeployer(address account)',
]);

export const dstackKmsBytecode = artifacts.contracts.DstackKms.bytecode as Hex;
export const dstackAppBytecode = artifacts.contracts.DstackApp.bytecode as Hex;
