/**
 * The HTTPS settings API in ProxMenux's paths and shapes: the status is READ, changes are ADMIN. What
 * is stored here is read by the monitor at its next start; nothing here restarts it.
 */
import type { RequestHandler } from 'express';
import type { MonitorAuthDeps } from '../auth/deps.ts';
import {
  SSL_DISABLED,
  SslSettingsError,
  certificateInfoAt,
  checkCertificatePair,
  findProxmoxCertificates,
  readSslSettings,
  writeSslSettings,
  type SslSettings,
} from '../auth/ssl-settings.ts';
import { bodyOf, fail, text } from './json-api.ts';

export interface SslHandlers {
  status: RequestHandler;
  validate: RequestHandler;
  configure: RequestHandler;
  disable: RequestHandler;
}

export function createSslHandlers(deps: Pick<MonitorAuthDeps, 'config' | 'logger' | 'proxmoxCertDir'>): SslHandlers {
  const { config } = deps;
  const status: RequestHandler = async (_req, res) => {
    let settings: SslSettings;
    let error: string | undefined;
    try {
      settings = await readSslSettings(config.data_dir);
    } catch (e) {
      if (!(e instanceof SslSettingsError)) throw e;
      settings = { ...SSL_DISABLED };
      error = e.message;
    }
    const proxmox = await findProxmoxCertificates(deps.proxmoxCertDir);
    res.json({
      success: true,
      ssl_enabled: settings.enabled,
      source: settings.source,
      cert_path: settings.cert_path,
      key_path: settings.key_path,
      proxmox_available: proxmox.available,
      proxmox_cert: proxmox.cert,
      proxmox_key: proxmox.key,
      cert_info: await certificateInfoAt(settings.cert_path),
      ...(error ? { error } : {}),
    });
  };

  const validate: RequestHandler = async (req, res) => {
    const body = bodyOf(req);
    const certPath = text(body, 'cert_path');
    const keyPath = text(body, 'key_path');
    if (!certPath || !keyPath) return fail(res, 400, 'cert_path and key_path are required');
    const check = await checkCertificatePair(certPath, keyPath);
    if (!check.ok) return fail(res, 400, check.message);
    res.json({ success: true, message: 'Certificate and key are valid', cert_info: check.info });
  };

  const configure: RequestHandler = async (req, res) => {
    const body = bodyOf(req);
    const source = body.source;
    let certPath = text(body, 'cert_path');
    let keyPath = text(body, 'key_path');
    if (source === 'proxmox') {
      const proxmox = await findProxmoxCertificates(deps.proxmoxCertDir);
      if (!proxmox.available) return fail(res, 400, `No Proxmox certificate found in ${deps.proxmoxCertDir}`);
      certPath = proxmox.cert!;
      keyPath = proxmox.key!;
    } else if (source !== 'custom') {
      return fail(res, 400, 'Invalid source: use proxmox or custom');
    }
    if (!certPath || !keyPath) return fail(res, 400, 'cert_path and key_path are required');
    const check = await checkCertificatePair(certPath, keyPath);
    if (!check.ok) return fail(res, 400, check.message);
    await writeSslSettings(config.data_dir, { enabled: true, source, cert_path: certPath, key_path: keyPath });
    deps.logger.info({ source, cert_path: certPath, by: req.identity!.username }, 'HTTPS configured; applies at the next start');
    res.json({
      success: true,
      message: 'HTTPS configured. Restart the monitor to apply it.',
      restarting: false,
      restart_required: true,
      new_protocol: 'https',
      cert_info: check.info,
    });
  };

  const disable: RequestHandler = async (req, res) => {
    await writeSslSettings(config.data_dir, { ...SSL_DISABLED });
    deps.logger.info({ by: req.identity!.username }, 'HTTPS disabled; applies at the next start');
    res.json({ success: true, message: 'HTTPS disabled. Restart the monitor to apply it.', restarting: false, restart_required: true, new_protocol: 'http' });
  };

  return { status, validate, configure, disable };
}
