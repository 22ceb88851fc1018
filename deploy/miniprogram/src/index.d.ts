// Types of wxauth-miniprogram (src/index.js).

export interface Adapter {
  /** One HTTP exchange; rejects only when no answer came. */
  request(o: { url: string; method: string; data?: unknown; header: Record<string, string> }):
    Promise<{ statusCode: number; data: any; header: Record<string, string> }>;
  /** A login code (wx.login's res.code). */
  login(): Promise<string>;
  storage: {
    get(key: string): any;
    set(key: string, value: any): void;
    remove(key: string): void;
  };
  /** A local file as base64 (for uploadAvatar). */
  readFile?(path: string): Promise<string>;
}

export const adapters: {
  wx(wx: any): Adapter;
  uni(uni: any): Adapter;
  taro(Taro: any): Adapter;
};

export interface ClientOptions {
  /** Where wxauth and your APIs are, e.g. "https://shop.example". */
  baseURL: string;
  /** This mini-program's appid. */
  appid: string;
  /** Default: adapters.wx(wx) when wx exists. */
  adapter?: Adapter;
  /** Default "wxauth:<appid>". */
  storageKey?: string;
  /** Seconds before expiry at which a token is refreshed ahead (default 60). */
  refreshMargin?: number;
  /** The clock, in milliseconds (default Date.now). */
  now?: () => number;
}

export interface User { id: string; unionid: string | null; created?: boolean }
export interface Account { appid: string; openid: string; created?: boolean }

export class WxauthError extends Error {
  /** The HTTP status; 0 when no answer came. */
  status: number;
  /** The server's error name ("session_revoked", "db_unavailable", …), or "network". */
  error: string;
  requestId: string | null;
  retryAfter?: number;
  /** decrypt: the data must be asked of the user again (session_key_stale). */
  askAgain?: boolean;
}

export interface Client {
  /** A request with the Bearer token: logs in, refreshes and retries as needed. */
  request<T = any>(o: { url: string; method?: string; data?: unknown; header?: Record<string, string> }): Promise<T>;
  login(): Promise<{ user: User; account: Account }>;
  logout(o?: { all?: boolean }): Promise<void>;
  userinfo(): Promise<any>;
  updateProfile(p: { nickname?: string; avatar_url?: string }): Promise<any>;
  /** The temporary file of <button open-type="chooseAvatar">, uploaded. */
  uploadAvatar(tempFilePath: string): Promise<any>;
  /** e.detail.code of <button open-type="getPhoneNumber">. */
  phone(code: string): Promise<{ phone_number: string; pure_phone_number: string; country_code: string }>;
  decrypt(blob: { encryptedData: string; iv: string; rawData?: string; signature?: string }): Promise<any>;
  readonly session: { user: User; account: Account } | null;
}

export function createClient(options: ClientOptions): Client;
