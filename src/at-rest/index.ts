export {
  EncryptedStore,
  type EncryptRecordsOptions,
  encryptRecords,
} from "../store/encrypted.js";
export { HashedIdStore, type HashIdsOptions, hashIds } from "../store/hashed-ids.js";
