/** The part of @elastic/mockotlpserver's JS API the tests use (it ships no types). */
declare module '@elastic/mockotlpserver' {
  export class MockOtlpServer {
    constructor(opts: {
      services?: ('http' | 'grpc' | 'ui')[];
      httpHostname?: string;
      httpPort?: number;
      logLevel?: string;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      onTrace?: (request: any) => void;
    });
    readonly httpUrl: URL;
    start(): Promise<void>;
    close(): Promise<void>;
  }
}
