// oidc-provider 9 ships no type declarations; Gatehouse reaches it only through gateway/oidc/provider.ts.
declare module 'oidc-provider' {
  const Provider: any;
  export default Provider;
  export const interactionPolicy: any;
  export const errors: any;
}
