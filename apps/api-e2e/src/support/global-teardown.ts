export default async function globalTeardown(): Promise<void> {
  await globalThis.__CIBOX_STACK__?.stop();
  await globalThis.__CIBOX_UPSTREAM__?.stop();
}
