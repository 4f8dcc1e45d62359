<?php
// Symfony Mime's usual attachment call, with the stub's parameters in its content type:
// DataPart cuts the type at the second '/', so the stub is mangled (path="statements).
require '/usr/share/php/Symfony/Component/Mime/autoload.php';
require '/usr/share/php/Egulias/EmailValidator/autoload.php';
use Symfony\Component\Mime\Email;

$email = (new Email())
    ->from('Billing <billing@example.test>')
    ->to('customer@example.test')
    ->subject('Ihre Rechnung 2026-03')
    ->text('Ihre Rechnung liegt bei.')
    ->attach('', 'Rechnung März 2026.pdf',
        'application/x-mimeinject; path="statements/{rcpt}/2026-03.pdf"');
echo $email->toString();
