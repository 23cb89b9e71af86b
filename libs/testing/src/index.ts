export * from './stack';
export * from './eventually';
export * from './fake-sandbox-driver';
export * from './scripted-turns';
export * from './scripted-persona';
export * from './scripted-upstream';
export * from './scripted-upstream-client';
export * from './python-client';
